"""Netlink steps through pyroute2: bridges, veth pairs, macvlan/ipvlan, sandbox setup.

Inside a sandbox we never ``setns`` this process, nor fork it (it has
threads: the DNS server's, the daemon's): a netlink socket belongs to the
namespace its creator was in, and ``setns(CLONE_NEWNET)`` moves only the
calling thread. So a short-lived thread joins the sandbox, opens the
socket and exits; ``IPRoute(use_socket=…)`` then works on it from here.
(pyroute2's own ``IPRoute(netns=…)`` forks a multiprocessing child per
call: slower, and unsafe in a threaded process.)

Links are created under a name carrying the service's link prefix and
renamed (``eth0``…) only inside the sandbox: a veth's sandbox end is made
there directly, beside its host end (one request), a macvlan/ipvlan link on
the host and then moved. A crash between the steps leaves a link a later
``restore()``/``remove`` can still find by its prefix (a veth's host end
takes its peer with it), never a stray ``eth0`` on the host.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dockyard.linux import syscalls

from .errors import InvalidParameter, NetworkError

if TYPE_CHECKING:
    # pyroute2 is ~9 MiB of modules: imported on the first netlink request
    # (iproute()), not by a daemon that never touches a link (``--bridge none``).
    from pyroute2 import IPRoute

IFNAMSIZ = 15
IFA_F_NODAD = 0x02
NETLINK_ROUTE = 0
LOOPBACK_IFINDEX = 1  # the kernel's fixed index of ``lo`` in every network namespace


@contextlib.contextmanager
def iproute(netns_path: str | None = None) -> Iterator[IPRoute]:
    from pyroute2 import IPRoute

    if netns_path is None:
        ipr = IPRoute()
    else:
        if not os.path.exists(netns_path):
            raise InvalidParameter(f"sandbox network namespace {netns_path} does not exist")
        ipr = IPRoute(use_socket=netns_socket(netns_path))
    try:
        yield ipr
    finally:
        ipr.close()


def netns_socket(path: str) -> socket.socket:
    """A NETLINK_ROUTE socket inside the network namespace at ``path``."""
    box: dict[str, object] = {}

    def inside() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                syscalls.setns(fd, syscalls.CLONE_NEWNET)
            finally:
                os.close(fd)
            box["sock"] = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
        except BaseException as e:
            box["error"] = e
        # The thread ends here, still in the sandbox's namespace: nothing else
        # ever runs on it.

    t = threading.Thread(target=inside, name="dockyard-netns")
    t.start()
    t.join()
    if "error" in box:
        err = box["error"]
        assert isinstance(err, BaseException)
        raise NetworkError(f"cannot enter network namespace {path}: {err}") from err
    sock = box["sock"]
    assert isinstance(sock, socket.socket)
    return sock


def index_of(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def link_exists(name: str) -> bool:
    with iproute() as ipr:
        return index_of(ipr, name) is not None


def delete_link(name: str, netns_path: str | None = None) -> None:
    """Delete a link if it exists (idempotent)."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        with iproute(netns_path) as ipr:
            idx = index_of(ipr, name)
            if idx is not None:
                ipr.link("del", index=idx)
    except NetlinkError as e:
        if e.code not in (errno.ENODEV, errno.ENOENT):
            raise
    except InvalidParameter:
        pass  # sandbox already gone: its links went with it


def set_sysctl(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def enable_ip_forward() -> None:
    # The kernel routes between bridges and the outside only with this on;
    # Docker sets it too. It is host-wide by nature.
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        if f.read().strip() == "1":
            return
    set_sysctl("/proc/sys/net/ipv4/ip_forward", "1")


def _iface(addr: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    return ipaddress.ip_interface(addr)


def add_address(ipr: IPRoute, idx: int, cidr: str) -> None:
    from pyroute2.netlink.exceptions import NetlinkError

    iface = _iface(cidr)
    kw: dict[str, object] = {}
    if iface.version == 6:
        kw["flags"] = IFA_F_NODAD  # no duplicate-address wait before traffic
    try:
        ipr.addr("add", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen,
                 family=socket.AF_INET6 if iface.version == 6 else socket.AF_INET, **kw)
    except NetlinkError as e:
        if e.code != errno.EEXIST:
            raise


def ensure_bridge(name: str, addresses: list[str], mtu: int = 0, adopt: bool = True) -> bool:
    """Create (or, with ``adopt``, reuse) a bridge with ``addresses``, up; returns True if it
    was created. Without ``adopt`` an existing link of that name is an error: it is not
    ours to take over (and later delete)."""
    created = False
    with iproute() as ipr:
        idx = index_of(ipr, name)
        if idx is not None and not adopt:
            raise InvalidParameter(f"bridge {name} already exists on the host")
        if idx is None:
            # A bridge without its own MAC takes its lowest port's, so it would
            # change whenever an endpoint leaves, and every sandbox's ARP entry
            # for the gateway would go stale (DNS and routing stall for ~30s).
            # A fixed MAC of its own avoids that (Docker does the same).
            kw: dict[str, object] = {"address": random_mac()}
            if mtu:
                kw["mtu"] = mtu
            ipr.link("add", ifname=name, kind="bridge", **kw)
            created = True
            idx = index_of(ipr, name)
            assert idx is not None
        try:
            for a in addresses:
                add_address(ipr, idx, a)
            ipr.link("set", index=idx, state="up")
        except BaseException:
            if created:
                ipr.link("del", index=idx)
            raise
    # 127.0.0.1:port → container: the DNATed packet leaves with a loopback
    # source, which the kernel refuses to route out of a non-loopback link
    # unless route_localnet is on for it (Docker does the same with
    # userland-proxy=false).
    with contextlib.suppress(OSError):
        set_sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")
    return created


def random_mac() -> str:
    b = bytearray(os.urandom(6))
    b[0] = (b[0] & 0xFE) | 0x02  # unicast, locally administered
    return ":".join(f"{x:02x}" for x in b)


def mac_for(ip: str) -> str:
    """Docker's MAC derivation: 02:42 followed by the IPv4 address bytes."""
    b = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{x:02x}" for x in b)


def configure_sandbox_link(netns_path: str, tmp_name: str, ifname: str, addresses: list[str],
                           gateways: list[str], mtu: int, mac: str, default_route: bool,
                           ns_fd: int, device_default: bool = False,
                           in_sandbox: bool = False) -> None:
    """Move ``tmp_name`` into the sandbox (unless ``in_sandbox``: made there),
    rename it, address it and route by it.

    ``device_default``: with no gateway, route the default straight out of the
    link (ipvlan l3, where the parent's host does the routing).

    Few netlink requests (each costs ~1-4 ms through pyroute2 on a busy
    host): the rename, MAC, MTU and "up" go in one (the kernel applies the
    flags last, after the rename), ``lo`` is LOOPBACK_IFINDEX in every
    namespace."""
    from pyroute2.netlink.exceptions import NetlinkError

    if not in_sandbox:
        with iproute() as ipr:
            idx = index_of(ipr, tmp_name)
            if idx is None:
                raise NetworkError(f"link {tmp_name} vanished before it reached the sandbox")
            ipr.link("set", index=idx, net_ns_fd=ns_fd)
    with iproute(netns_path) as ns:
        idx = index_of(ns, tmp_name)
        if idx is None:
            raise NetworkError(f"link {tmp_name} vanished before it reached the sandbox")
        if index_of(ns, ifname) is not None:
            raise InvalidParameter(f"interface {ifname} already exists in sandbox {netns_path}")
        kw: dict[str, object] = {"ifname": ifname, "state": "up"}
        if mtu:
            kw["mtu"] = mtu
        if mac:
            kw["address"] = mac
        ns.link("set", index=idx, **kw)
        ns.link("set", index=LOOPBACK_IFINDEX, state="up")
        for a in addresses:
            add_address(ns, idx, a)
        if default_route:
            for gw in gateways:
                fam = socket.AF_INET6 if ":" in gw else socket.AF_INET
                try:
                    ns.route("add", dst="default", gateway=gw, oif=idx, family=fam)
                except NetlinkError as e:
                    if e.code != errno.EEXIST:
                        raise
            if device_default and not gateways:
                ns.route("add", dst="default", oif=idx)


def open_netns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidParameter(f"sandbox network namespace {path} does not exist") from None


def create_veth(host_name: str, peer_name: str, master: str, mtu: int,
                peer_ns_fd: int | None = None) -> None:
    """A veth pair: ``host_name`` on the host, a port of ``master``, up;
    ``peer_name`` beside it, or made straight in the namespace ``peer_ns_fd``
    (one request instead of a create, a move and lookups; a crash still
    leaves only the prefixed host end, which takes the peer when deleted)."""
    with iproute() as ipr:
        kw: dict[str, object] = {}
        if mtu:
            kw["mtu"] = mtu
        br = index_of(ipr, master)
        if br is None:
            raise NetworkError(f"bridge {master} is missing; run restore()")
        peer: dict[str, object] = {"ifname": peer_name, **kw}
        if peer_ns_fd is not None:
            peer["net_ns_fd"] = peer_ns_fd
        ipr.link("add", ifname=host_name, kind="veth", master=br, state="up", peer=peer, **kw)
        try:
            # Hairpin: a container reaching its own published port through the
            # host address gets the DNATed packet back on the port it came in
            # by; the bridge sends it only with hairpin mode on (Docker sets it
            # too when it runs without the userland proxy).
            set_sysctl(f"/sys/class/net/{host_name}/brport/hairpin_mode", "1")
        except BaseException:
            ipr.link("del", ifname=host_name)
            raise


def create_sublink(kind: str, name: str, parent: str, mode: str, mtu: int) -> None:
    """A macvlan or ipvlan link on ``parent`` (on the host, moved later)."""
    from pyroute2.netlink.exceptions import NetlinkError

    with iproute() as ipr:
        pidx = index_of(ipr, parent)
        if pidx is None:
            raise InvalidParameter(f"invalid parent: host interface {parent!r} does not exist")
        kw: dict[str, object] = {}
        if mtu:
            kw["mtu"] = mtu
        if kind == "macvlan":
            kw["macvlan_mode"] = mode
        else:
            kw["ipvlan_mode"] = {"l2": 0, "l3": 1}[mode]
        try:
            ipr.link("add", ifname=name, kind=kind, link=pidx, **kw)
        except NetlinkError as e:
            if e.code == errno.EOPNOTSUPP or "Unknown device type" in str(e):
                raise NetworkError(f"this kernel has no {kind} support") from None
            raise


def kernel_supports(kind: str, parent: str) -> bool:
    """Probe: can a ``kind`` link be made on ``parent``? (ipvlan is often compiled out)."""
    from pyroute2.netlink.exceptions import NetlinkError

    probe = ("dyprobe" + os.urandom(4).hex())[:IFNAMSIZ]
    try:
        create_sublink(kind, probe, parent, "bridge" if kind == "macvlan" else "l2", 0)
    except (NetworkError, NetlinkError):
        return False
    delete_link(probe)
    return True


def links_named(prefix: str) -> list[str]:
    """Host links whose name starts with ``prefix``.

    if_nameindex(3) asks the kernel over netlink in this thread's network
    namespace, as pyroute2 would, without loading it: the daemon's start-up
    sweep runs this even when it has no network to restore."""
    return [name for _, name in socket.if_nameindex() if name.startswith(prefix)]


def host_routes() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Destinations of the host's routes (main table), to keep pool subnets off them."""
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    with iproute() as ipr:
        for fam in (socket.AF_INET, socket.AF_INET6):
            for r in ipr.get_routes(family=fam, table=254):
                dst = r.get_attr("RTA_DST")
                if dst is None:
                    continue  # the default route overlaps everything; Docker skips it too
                with contextlib.suppress(ValueError):
                    out.append(ipaddress.ip_network(f"{dst}/{r['dst_len']}", strict=False))
    return out
