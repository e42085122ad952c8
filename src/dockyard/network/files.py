"""Per-sandbox ``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname``, as Docker writes them.

Pure renderers: the engine writes the text into the container's files
(bind-mounted over the image's). ``--add-host name:host-gateway`` resolves
to the gateway of the container's first network (Docker's
``host-gateway-ip`` default is the default bridge's gateway).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from .dns import host_resolvers
from .errors import InvalidParameter

HOSTS_HEADER = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::\tip6-localnet
ff00::\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


def parse_add_host(spec: str, host_gateway: str = "") -> tuple[str, str]:
    """``name:ip`` or ``name=ip`` (``host-gateway`` allowed) → (name, ip)."""
    sep = "=" if "=" in spec else ":"
    name, _, ip = spec.partition(sep)
    if not name or not ip:
        raise InvalidParameter(f"invalid --add-host {spec!r}: expected name:ip")
    if ip == "host-gateway":
        if not host_gateway:
            raise InvalidParameter(f"invalid --add-host {spec!r}: no host-gateway address known")
        ip = host_gateway
    ip = ip.strip("[]")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidParameter(f"invalid IP address in --add-host {spec!r}: {ip!r}") from None
    return name, ip


def render_hosts(hostname: str, addresses: Sequence[str], extra_hosts: Sequence[str] = (),
                 host_gateway: str = "", domainname: str = "",
                 links: Sequence[tuple[str, Sequence[str]]] = ()) -> str:
    """``/etc/hosts``: localhost lines, ``--add-host`` lines, legacy ``--link`` lines
    (``(ip, [alias, hostname, name])``), then the container's own names."""
    lines = [HOSTS_HEADER]
    for spec in extra_hosts:
        name, ip = parse_add_host(spec, host_gateway)
        lines.append(f"{ip}\t{name}\n")
    for ip, names in links:
        lines.append(f"{ip}\t{' '.join(names)}\n")
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    for a in addresses:
        lines.append(f"{a.split('/')[0]}\t{names}\n")
    return "".join(lines)


def render_resolv_conf(nameservers: Sequence[str], search: Sequence[str] = (),
                       options: Sequence[str] = ()) -> str:
    """``/etc/resolv.conf``. For user-defined networks pass the network's gateway
    (our DNS server); on the default bridge, ``--dns`` or the host's usable resolvers."""
    out = []
    for s in search:
        if not s or " " in s:
            raise InvalidParameter(f"invalid --dns-search {s!r}")
    if search:
        out.append("search " + " ".join(search))
    for ns in nameservers:
        try:
            ipaddress.ip_address(ns)
        except ValueError:
            raise InvalidParameter(f"invalid --dns {ns!r}: not an IP address") from None
        out.append(f"nameserver {ns}")
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def default_bridge_resolvers(dns: list[str]) -> list[str]:
    """Nameservers for a container without our DNS: ``--dns`` or the host's, minus
    loopback ones (unreachable from the sandbox), else Google's as Docker does."""
    if dns:
        return dns
    usable = [n for n in host_resolvers() if not ipaddress.ip_address(n).is_loopback]
    return usable or ["8.8.8.8", "8.8.4.4"]


def render_hostname(hostname: str) -> str:
    return hostname + "\n"
