"""Port specs: ``-p``/``--publish`` and ``EXPOSE`` parsed and validated.

Grammar (Docker's ``nat.ParsePortSpec``)::

    [ip:][hostPort[-end]:]containerPort[-end][/proto]     ip may be [v6]

``8080:80``, ``127.0.0.1:8080:80``, ``80`` (random host port), ``127.0.0.1::80``,
``8000-8001:80-81``, ``8000-8010:80`` (any free port of the range),
``53/udp``. The CLI and the API call :func:`parse_publish` so every entry
point rejects the same inputs with the same words.
"""

from __future__ import annotations

import ipaddress

from .errors import PortSpecError
from .model import PortMapping

PROTOS = ("tcp", "udp", "sctp")


def _port_range(text: str, what: str, spec: str) -> tuple[int, int]:
    lo_s, sep, hi_s = text.partition("-")
    try:
        lo = int(lo_s, 10)
        hi = int(hi_s, 10) if sep else lo
    except ValueError:
        raise PortSpecError(f"invalid {what}: {text!r} in port spec {spec!r} "
                            f"(expected a number 1-65535 or a range like 8000-8010)") from None
    for p in (lo, hi):
        if not 1 <= p <= 65535:
            raise PortSpecError(f"invalid {what}: {p} in port spec {spec!r} "
                                f"(ports are 1-65535)")
    if hi < lo:
        raise PortSpecError(f"invalid {what}: range {text!r} in port spec {spec!r} "
                            f"ends before it starts")
    return lo, hi


def parse_port_proto(text: str) -> tuple[int, int, str]:
    """``80``, ``80-81/udp`` → (start, end, proto); used for EXPOSE too."""
    port, _, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOS:
        raise PortSpecError(f"invalid proto: {proto!r} in port spec {text!r} "
                            f"(expected one of {', '.join(PROTOS)})")
    lo, hi = _port_range(port, "containerPort", text)
    return lo, hi, proto


def _split_ip(spec: str) -> tuple[str, str]:
    """Split off a leading host IP; returns (ip, rest)."""
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0 or spec[end + 1:end + 2] != ":":
            raise PortSpecError(f"invalid IP address in port spec {spec!r}")
        return spec[1:end], spec[end + 2:]
    parts = spec.split(":")
    if len(parts) <= 2:
        return "", spec
    if len(parts) == 3:
        return parts[0], parts[1] + ":" + parts[2]
    raise PortSpecError(f"invalid port spec {spec!r}: too many colons "
                        f"(expected [ip:][hostPort:]containerPort[/proto]; "
                        f"write IPv6 addresses as [::1])")


def parse_publish(spec: str) -> list[PortMapping]:
    """One ``-p`` value → its mappings.

    >>> parse_publish("127.0.0.1:8080:80/udp")
    [PortMapping(container_port=80, proto='udp', host_ip='127.0.0.1', host_port=8080, host_port_end=0)]
    """
    spec = spec.strip()
    if not spec:
        raise PortSpecError("invalid port spec '': expected [ip:][hostPort:]containerPort[/proto]")
    ip, rest = _split_ip(spec)
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise PortSpecError(f"invalid IP address {ip!r} in port spec {spec!r}") from None
    host_part, sep, ctr_part = rest.rpartition(":")
    if not sep:
        host_part, ctr_part = "", rest
    c_lo, c_hi, proto = parse_port_proto(ctr_part) if ctr_part else (0, 0, "")
    if not ctr_part:
        raise PortSpecError(f"invalid containerPort: '' in port spec {spec!r}")
    if not host_part:
        return [PortMapping(p, proto, ip, 0) for p in range(c_lo, c_hi + 1)]
    h_lo, h_hi = _port_range(host_part, "hostPort", spec)
    n_ctr, n_host = c_hi - c_lo + 1, h_hi - h_lo + 1
    if n_ctr == n_host:
        return [PortMapping(c_lo + i, proto, ip, h_lo + i) for i in range(n_ctr)]
    if n_ctr == 1:
        return [PortMapping(c_lo, proto, ip, h_lo, h_hi)]
    raise PortSpecError(f"invalid ranges in port spec {spec!r}: hostPort range "
                        f"{host_part} and containerPort range {ctr_part.split('/')[0]} "
                        f"differ in length")


def parse_publish_all(specs: list[str]) -> list[PortMapping]:
    out: list[PortMapping] = []
    for s in specs:
        out.extend(parse_publish(s))
    return out


def exposed_to_mappings(exposed: dict[str, object] | list[str]) -> list[PortMapping]:
    """``-P``: every EXPOSEd port (image config ``ExposedPorts`` keys) on a random host port."""
    out: list[PortMapping] = []
    for key in exposed:
        lo, hi, proto = parse_port_proto(key)
        out.extend(PortMapping(p, proto, "", 0) for p in range(lo, hi + 1))
    return out


def docker_port_bindings(mappings: list[PortMapping]) -> dict[str, list[dict[str, str]]]:
    """``NetworkSettings.Ports`` shape: ``{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}``."""
    out: dict[str, list[dict[str, str]]] = {}
    for m in mappings:
        out.setdefault(f"{m.container_port}/{m.proto}", []).append(
            {"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(m.host_port)})
    return out
