"""Our rtnetlink client against the real kernel, in private network namespaces.

Every request goes through a socket opened inside a namespace made for the
test (``links.netns_socket``: the thread trick the network package uses),
and every effect is read back with iproute2's ``ip -j`` (an independent
netlink client), never with the module under test alone.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.linux import rtnetlink
from dockyard.linux.rtnetlink import IFA_F_NODAD, IFF_UP, NetlinkError, RtNetlink
from dockyard.network import links
from dockyard.network.errors import NetworkError

pytestmark = pytest.mark.needs_root


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def ipj(ns: str, *args: str) -> Any:
    return json.loads(ip("-n", ns, "-j", *args).stdout or "[]")


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name
        self.path = f"/var/run/netns/{name}"
        ip("netns", "add", name)

    def netlink(self) -> RtNetlink:
        return RtNetlink(links.netns_socket(self.path))

    def link(self, name: str) -> dict[str, Any]:
        (found,) = ipj(self.name, "-d", "link", "show", "dev", name)
        return found  # type: ignore[no-any-return]


@pytest.fixture
def netns(unique: str) -> Iterator[Callable[[], Netns]]:
    made: list[Netns] = []

    def make() -> Netns:
        ns = Netns(f"{unique}-{len(made)}")
        made.append(ns)
        return ns

    try:
        yield make
    finally:
        for ns in made:
            ip("netns", "del", ns.name, check=False)


@pytest.fixture
def ns(netns: Callable[[], Netns]) -> Netns:
    return netns()


def veth(nl: RtNetlink, name: str, peer: str) -> int:
    nl.new_link(name, "veth", info_data=[rtnetlink.veth_peer(peer)])
    found = nl.link(name)
    assert found is not None
    return found.index


def test_link_lookup_host_and_netns(ns: Netns, unique: str) -> None:
    with RtNetlink() as host:
        lo = host.link("lo")
        assert lo is not None and lo.index == 1 and lo.ifname == "lo"
        assert host.link(unique + "x") is None
    with ns.netlink() as nl:
        veth(nl, unique + "a", unique + "b")
        found = nl.link(unique + "a")
        assert found is not None
        assert found.index == ns.link(unique + "a")["ifindex"]
        assert found.ifname == unique + "a"
        # names no link can have: None, not a kernel EINVAL
        for bad in ("", "x" * 16, "a/b", "a b", "a\0b", ".."):
            assert nl.link(bad) is None
    # The link was made in the namespace the socket was opened in, not here.
    assert ip("link", "show", "dev", unique + "a", check=False).returncode != 0


def test_bring_lo_up(ns: Netns) -> None:
    with ns.netlink() as nl:
        before = nl.link("lo")
        assert before is not None and not before.flags & IFF_UP
        nl.set_link(links.LOOPBACK_IFINDEX, up=True)
        after = nl.link("lo")
        assert after is not None and after.flags & IFF_UP
    assert "UP" in ns.link("lo")["flags"]


def test_bridge_with_address_and_mtu(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        nl.new_link(unique + "br", "bridge", address="02:11:22:33:44:55", mtu=1400)
    br = ns.link(unique + "br")
    assert br["linkinfo"]["info_kind"] == "bridge"
    assert br["address"] == "02:11:22:33:44:55"
    assert br["mtu"] == 1400


def test_duplicate_name_is_eexist(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        nl.new_link(unique + "br", "bridge")
        with pytest.raises(NetlinkError) as exc:
            nl.new_link(unique + "br", "bridge")
        assert exc.value.errno == errno.EEXIST
        assert isinstance(exc.value, OSError)
        # the socket is still usable after an error
        assert nl.link(unique + "br") is not None


def test_missing_link_is_enodev(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        with pytest.raises(NetlinkError) as exc:
            nl.del_link(ifname=unique + "x")
        assert exc.value.errno == errno.ENODEV
        with pytest.raises(NetlinkError) as exc:
            nl.set_link(99999, up=True)
        assert exc.value.errno == errno.ENODEV
        with pytest.raises(NetlinkError) as exc:
            nl.add_address(99999, "10.1.2.3/24")
        assert exc.value.errno == errno.ENODEV


def test_extended_ack_message(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        idx = veth(nl, unique + "a", unique + "b")
        with pytest.raises(NetlinkError) as exc:
            nl.set_link(idx, mtu=10)  # below any Ethernet device's minimum
        assert exc.value.errno == errno.EINVAL
        assert "mtu" in exc.value.extack.lower()
        assert exc.value.extack in str(exc.value)
        # a kind the kernel does not know: EOPNOTSUPP, and its words for it
        with pytest.raises(NetlinkError) as exc:
            nl.new_link(unique + "k", "dytnosuchkind")
        assert exc.value.errno == errno.EOPNOTSUPP
        assert exc.value.extack == "Unknown device type"


def test_bad_mac_is_refused_before_anything_is_sent(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        for bad in ("02:42:ac:11:00", "02:42:ac:11:00:zz", "02:42:ac:11:00:100", ":::::"):
            with pytest.raises(ValueError, match="invalid MAC address"):
                nl.new_link(unique + "br", "bridge", address=bad)
        assert nl.link(unique + "br") is None


def test_veth_on_a_bridge_with_its_peer_in_another_netns(netns: Callable[[], Netns],
                                                         unique: str) -> None:
    a, b = netns(), netns()
    fd = os.open(b.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with a.netlink() as nl:
            nl.new_link(unique + "br", "bridge")
            br = nl.link(unique + "br")
            assert br is not None
            nl.new_link(unique + "h", "veth", master=br.index, up=True, mtu=1400,
                        info_data=[rtnetlink.veth_peer(unique + "p", 1400, fd)])
            assert nl.link(unique + "p") is None  # made straight in b
    finally:
        os.close(fd)
    host = a.link(unique + "h")
    assert host["master"] == unique + "br"
    assert "UP" in host["flags"]
    assert host["mtu"] == 1400
    peer = b.link(unique + "p")
    assert peer["linkinfo"]["info_kind"] == "veth"
    assert peer["mtu"] == 1400
    assert "UP" not in peer["flags"]


def test_move_then_rename_mac_mtu_up_in_one_request(netns: Callable[[], Netns],
                                                    unique: str) -> None:
    a, b = netns(), netns()
    with a.netlink() as nl:
        veth(nl, unique + "h", unique + "p")
        peer = nl.link(unique + "p")
        assert peer is not None
        fd = os.open(b.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            nl.set_link(peer.index, net_ns_fd=fd)
        finally:
            os.close(fd)
        assert nl.link(unique + "p") is None
    with b.netlink() as nl:
        moved = nl.link(unique + "p")
        assert moved is not None
        nl.set_link(moved.index, ifname="eth0", address="02:42:0a:00:00:07", mtu=1300, up=True)
        assert nl.link(unique + "p") is None
    eth0 = b.link("eth0")
    assert eth0["address"] == "02:42:0a:00:00:07"
    assert eth0["mtu"] == 1300
    assert "UP" in eth0["flags"]


def test_delete_by_index_and_by_name(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        idx = veth(nl, unique + "a", unique + "b")
        veth(nl, unique + "c", unique + "d")
        nl.del_link(idx)
        nl.del_link(ifname=unique + "c")
        assert nl.link(unique + "a") is None and nl.link(unique + "b") is None
        assert nl.link(unique + "c") is None and nl.link(unique + "d") is None
    assert [x["ifname"] for x in ipj(ns.name, "link", "show")] == ["lo"]


def test_macvlan_and_ipvlan(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        parent = veth(nl, unique + "a", unique + "b")
        nl.new_link(unique + "m", "macvlan", link=parent, mtu=1400, info_data=[
            rtnetlink.attr_u32(rtnetlink.IFLA_MACVLAN_MODE, rtnetlink.MACVLAN_MODE["bridge"])])
        try:
            nl.new_link(unique + "i", "ipvlan", link=parent, info_data=[
                rtnetlink.attr_u16(rtnetlink.IFLA_IPVLAN_MODE, rtnetlink.IPVLAN_MODE["l3"])])
            ipvlan_made = True
        except NetlinkError as e:
            # Compiled out of this kernel (and its module not loadable).
            assert e.errno == errno.EOPNOTSUPP, e
            ipvlan_made = False
    mv = ns.link(unique + "m")
    assert mv["linkinfo"]["info_kind"] == "macvlan"
    assert mv["linkinfo"]["info_data"]["mode"] == "bridge"
    assert mv["link"] == unique + "a"
    assert mv["mtu"] == 1400
    if ipvlan_made:
        iv = ns.link(unique + "i")
        assert iv["linkinfo"]["info_kind"] == "ipvlan"
        assert iv["linkinfo"]["info_data"]["mode"] == "l3"


def test_addresses_v4_v6(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        idx = veth(nl, unique + "a", unique + "b")
        nl.add_address(idx, "10.77.0.2/24")
        nl.add_address(idx, "fd00:77::2/64", IFA_F_NODAD)
        with pytest.raises(NetlinkError) as exc:
            nl.add_address(idx, "10.77.0.2/24")
        assert exc.value.errno == errno.EEXIST
        with pytest.raises(NetlinkError) as exc:
            nl.add_address(idx, "fd00:77::2/64", IFA_F_NODAD)
        assert exc.value.errno == errno.EEXIST
    (info,) = ipj(ns.name, "addr", "show", "dev", unique + "a")
    addrs = {(a["local"], a["prefixlen"]): a for a in info["addr_info"]}
    assert addrs[("10.77.0.2", 24)]["family"] == "inet"
    v6 = addrs[("fd00:77::2", 64)]
    assert v6["family"] == "inet6" and v6.get("nodad") is True


def test_routes_default_via_gateway_and_dev(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        idx = veth(nl, unique + "a", unique + "b")
        nl.set_link(idx, up=True)
        nl.add_address(idx, "10.77.0.2/24")
        nl.add_address(idx, "fd00:77::2/64", IFA_F_NODAD)
        nl.add_route(socket.AF_INET, idx, gateway="10.77.0.1")
        nl.add_route(socket.AF_INET6, idx, gateway="fd00:77::1")
        with pytest.raises(NetlinkError) as exc:
            nl.add_route(socket.AF_INET, idx, gateway="10.77.0.1")
        assert exc.value.errno == errno.EEXIST
        nl.add_route(socket.AF_INET, idx, table=100)  # default dev, no gateway
        nl.add_route(socket.AF_INET, idx, dst="192.0.2.0/24", table=1000)
        v4 = nl.routes(socket.AF_INET)
        v6 = nl.routes(socket.AF_INET6)
        t100 = nl.routes(socket.AF_INET, 100)
        t1000 = nl.routes(socket.AF_INET, 1000)
    assert {(r.dst, r.dst_len, r.gateway, r.oif) for r in v4} == {
        (None, 0, "10.77.0.1", idx), ("10.77.0.0", 24, None, idx)}
    assert (None, 0, "fd00:77::1", idx) in {(r.dst, r.dst_len, r.gateway, r.oif) for r in v6}
    assert ("fd00:77::", 64) in {(r.dst, r.dst_len) for r in v6}
    assert [(r.dst, r.gateway, r.oif, r.table) for r in t100] == [(None, None, idx, 100)]
    assert [(r.dst, r.dst_len, r.table) for r in t1000] == [("192.0.2.0", 24, 1000)]
    # What iproute2 reads back.
    (gw4,) = ipj(ns.name, "-4", "route", "show", "default")
    assert gw4["gateway"] == "10.77.0.1" and gw4["dev"] == unique + "a"
    (gw6,) = ipj(ns.name, "-6", "route", "show", "default")
    assert gw6["gateway"] == "fd00:77::1"
    (dev,) = ipj(ns.name, "-4", "route", "show", "table", "100")
    assert dev["dst"] == "default" and dev["dev"] == unique + "a" and "gateway" not in dev


class _CountingNetlink(RtNetlink):
    """Counts the datagrams read, to see a dump arrive in several."""

    datagrams = 0

    def _receive(self) -> list[rtnetlink.Message]:
        self.datagrams += 1
        return super()._receive()


def test_dump_spanning_many_datagrams(ns: Netns, unique: str) -> None:
    with ns.netlink() as nl:
        veth(nl, unique + "a", unique + "b")
    ip("-n", ns.name, "link", "set", unique + "a", "up")
    # ~60 bytes a route, at most 32 KiB a datagram: 2000 routes need several.
    batch = "".join(f"route add 10.{90 + i // 256}.{i % 256}.0/24 dev {unique}a\n"
                    for i in range(2000))
    subprocess.run(["ip", "-n", ns.name, "-batch", "-"], input=batch, text=True, check=True,
                   capture_output=True, timeout=60)
    counting = _CountingNetlink(links.netns_socket(ns.path))
    with counting:
        routes = counting.routes(socket.AF_INET)
        assert counting.datagrams > 2, counting.datagrams
        got = {(r.dst, r.dst_len) for r in routes}
        assert got == {(f"10.{90 + i // 256}.{i % 256}.0", 24) for i in range(2000)}
        # the answer to the next request is not mixed up with the dump's
        lo = counting.link("lo")
        assert lo is not None and lo.index == 1


def test_netns_socket_of_a_missing_namespace(unique: str) -> None:
    with pytest.raises(NetworkError, match="cannot enter network namespace"):
        links.netns_socket(f"/var/run/netns/{unique}-gone")
