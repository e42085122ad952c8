"""Netlink steps (``dockyard.linux.rtnetlink``): bridges, veth pairs, macvlan/ipvlan, sandboxes.

Inside a sandbox we never ``setns`` this process, nor fork it (it has
threads: the DNS server's, the daemon's): a netlink socket belongs to the
namespace its creator was in, and ``setns(CLONE_NEWNET)`` moves only the
calling thread. So a short-lived thread joins the sandbox, opens the
socket and exits; ``RtNetlink(sock)`` then works on it from here.

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

from dockyard.linux import rtnetlink, syscalls
from dockyard.linux.rtnetlink import IFA_F_NODAD, NetlinkError, RtNetlink

from .errors import InvalidParameter, NetworkError

IFNAMSIZ = 15
LOOPBACK_IFINDEX = 1  # the kernel's fixed index of ``lo`` in every network namespace


@contextlib.contextmanager
def netlink(netns_path: str | None = None) -> Iterator[RtNetlink]:
    """An rtnetlink socket on the host, or in the sandbox namespace at ``netns_path``."""
    if netns_path is None:
        nl = RtNetlink()
    else:
        if not os.path.exists(netns_path):
            raise InvalidParameter(f"sandbox network namespace {netns_path} does not exist")
        nl = RtNetlink(netns_socket(netns_path))
    try:
        yield nl
    finally:
        nl.close()


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
            box["sock"] = rtnetlink.open_socket()
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


def index_of(nl: RtNetlink, name: str) -> int | None:
    found = nl.link(name)
    return found.index if found else None


def link_exists(name: str) -> bool:
    with netlink() as nl:
        return index_of(nl, name) is not None


def delete_link(name: str, netns_path: str | None = None) -> None:
    """Delete a link if it exists (idempotent)."""
    if not rtnetlink.valid_ifname(name):
        return  # no link has such a name (the kernel would answer EINVAL)
    try:
        with netlink(netns_path) as nl:
            # By name, in one request; ENODEV: it is gone already.
            nl.del_link(ifname=name)
    except NetlinkError as e:
        if e.errno not in (errno.ENODEV, errno.ENOENT):
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


def add_address(nl: RtNetlink, idx: int, cidr: str) -> None:
    iface = _iface(cidr)
    # v6: no duplicate-address wait before traffic
    flags = IFA_F_NODAD if iface.version == 6 else 0
    try:
        nl.add_address(idx, str(iface), flags)
    except NetlinkError as e:
        if e.errno != errno.EEXIST:
            raise


def ensure_bridge(name: str, addresses: list[str], mtu: int = 0, adopt: bool = True) -> bool:
    """Create (or, with ``adopt``, reuse) a bridge with ``addresses``, up; returns True if it
    was created. Without ``adopt`` an existing link of that name is an error: it is not
    ours to take over (and later delete)."""
    created = False
    with netlink() as nl:
        idx = index_of(nl, name)
        if idx is not None and not adopt:
            raise InvalidParameter(f"bridge {name} already exists on the host")
        if idx is None:
            # A bridge without its own MAC takes its lowest port's, so it would
            # change whenever an endpoint leaves, and every sandbox's ARP entry
            # for the gateway would go stale (DNS and routing stall for ~30s).
            # A fixed MAC of its own avoids that (Docker does the same).
            nl.new_link(name, "bridge", address=random_mac(), mtu=mtu)
            created = True
            idx = index_of(nl, name)
            if idx is None:
                raise NetworkError(f"bridge {name} vanished right after it was made")
        try:
            for a in addresses:
                add_address(nl, idx, a)
            nl.set_link(idx, up=True)
        except BaseException:
            if created:
                nl.del_link(idx)
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

    Few netlink requests: the rename, MAC, MTU and "up" go in one (the
    kernel applies the flags last, after the rename), ``lo`` is
    LOOPBACK_IFINDEX in every namespace."""
    if not in_sandbox:
        with netlink() as nl:
            idx = index_of(nl, tmp_name)
            if idx is None:
                raise NetworkError(f"link {tmp_name} vanished before it reached the sandbox")
            nl.set_link(idx, net_ns_fd=ns_fd)
    with netlink(netns_path) as ns:
        idx = index_of(ns, tmp_name)
        if idx is None:
            raise NetworkError(f"link {tmp_name} vanished before it reached the sandbox")
        if index_of(ns, ifname) is not None:
            raise InvalidParameter(f"interface {ifname} already exists in sandbox {netns_path}")
        ns.set_link(idx, ifname=ifname, address=mac, mtu=mtu, up=True)
        ns.set_link(LOOPBACK_IFINDEX, up=True)
        for a in addresses:
            add_address(ns, idx, a)
        if default_route:
            for gw in gateways:
                fam = socket.AF_INET6 if ":" in gw else socket.AF_INET
                try:
                    ns.add_route(fam, idx, gateway=gw)
                except NetlinkError as e:
                    if e.errno != errno.EEXIST:
                        raise
            if device_default and not gateways:
                ns.add_route(socket.AF_INET, idx)


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
    with netlink() as nl:
        br = index_of(nl, master)
        if br is None:
            raise NetworkError(f"bridge {master} is missing; run restore()")
        nl.new_link(host_name, "veth", master=br, up=True, mtu=mtu,
                    info_data=[rtnetlink.veth_peer(peer_name, mtu, peer_ns_fd)])
        try:
            # Hairpin: a container reaching its own published port through the
            # host address gets the DNATed packet back on the port it came in
            # by; the bridge sends it only with hairpin mode on (Docker sets it
            # too when it runs without the userland proxy).
            set_sysctl(f"/sys/class/net/{host_name}/brport/hairpin_mode", "1")
        except BaseException:
            nl.del_link(ifname=host_name)
            raise


def create_sublink(kind: str, name: str, parent: str, mode: str, mtu: int) -> None:
    """A macvlan or ipvlan link on ``parent`` (on the host, moved later)."""
    with netlink() as nl:
        pidx = index_of(nl, parent)
        if pidx is None:
            raise InvalidParameter(f"invalid parent: host interface {parent!r} does not exist")
        if kind == "macvlan":
            data = rtnetlink.attr_u32(rtnetlink.IFLA_MACVLAN_MODE, rtnetlink.MACVLAN_MODE[mode])
        else:
            data = rtnetlink.attr_u16(rtnetlink.IFLA_IPVLAN_MODE, rtnetlink.IPVLAN_MODE[mode])
        try:
            nl.new_link(name, kind, link=pidx, mtu=mtu, info_data=[data])
        except NetlinkError as e:
            # A kind the kernel lacks (ipvlan compiled out, its module not
            # loadable): EOPNOTSUPP, "Unknown device type" in the extended ack.
            if e.errno == errno.EOPNOTSUPP or "Unknown device type" in e.extack:
                raise NetworkError(f"this kernel has no {kind} support") from None
            raise


def kernel_supports(kind: str, parent: str) -> bool:
    """Probe: can a ``kind`` link be made on ``parent``? (ipvlan is often compiled out)."""
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
    namespace, in C: the daemon's start-up sweep runs this even when it has
    no network to restore."""
    return [name for _, name in socket.if_nameindex() if name.startswith(prefix)]


def host_routes() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Destinations of the host's routes (main table), to keep pool subnets off them."""
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    with netlink() as nl:
        for fam in (socket.AF_INET, socket.AF_INET6):
            for r in nl.routes(fam, rtnetlink.RT_TABLE_MAIN):
                if r.dst is None:
                    continue  # the default route overlaps everything; Docker skips it too
                with contextlib.suppress(ValueError):
                    out.append(ipaddress.ip_network(f"{r.dst}/{r.dst_len}", strict=False))
    return out
