"""macvlan and ipvlan: sandboxes on a host link, reaching a peer namespace on that LAN."""

from __future__ import annotations

import pytest
from net_helpers import cid, links_with, sh

from dockyard.network import IPAM, IPAMConfig
from dockyard.network.errors import InvalidParameter, NetworkError
from dockyard.network.links import kernel_supports

pytestmark = pytest.mark.needs_root


@pytest.fixture
def lan(unique, netns, free_subnet):
    """A veth pair: ``<unique>l0`` on the host is the parent, its peer is a host on the
    LAN, in its own namespace, at .254 of a fresh subnet."""
    parent, far = unique + "l0", unique + "l1"
    sub = free_subnet()
    peer = netns()
    sh("ip", "link", "add", parent, "type", "veth", "peer", "name", far)
    sh("ip", "link", "set", far, "netns", peer.name)
    sh("ip", "link", "set", parent, "up")
    peer_ip = sub.replace(".0/24", ".254")
    sh("ip", "netns", "exec", peer.name, "ip", "addr", "add", peer_ip + "/24", "dev", far)
    sh("ip", "netns", "exec", peer.name, "ip", "link", "set", far, "up")
    return parent, sub, peer, peer_ip


def test_macvlan_reaches_a_peer_on_the_parent_lan(svc, netns, lan):
    parent, sub, peer, peer_ip = lan
    svc.create_network("mv", "macvlan", IPAM(Config=[IPAMConfig(Subnet=sub,
                                                                Gateway=peer_ip)]),
                       options={"parent": parent})
    a, b = netns(), netns()
    ea = svc.connect("mv", cid(), a.path)
    eb = svc.connect("mv", cid(), b.path, ipv4_address=sub.replace(".0/24", ".50"))
    assert eb.IPv4Address.split("/")[0].endswith(".50")
    assert f"default via {peer_ip}" in a.run("ip", "route").stdout
    assert "macvlan" in sh("ip", "netns", "exec", a.name, "ip", "-d", "link", "show",
                           "eth0").stdout
    assert a.ping(peer_ip)
    assert a.ping(eb.IPv4Address.split("/")[0])  # bridge mode: sandboxes see each other
    assert peer.ping(ea.IPv4Address.split("/")[0])
    svc.disconnect("mv", ea.ContainerID)
    assert "eth0" not in a.run("ip", "-o", "link").stdout
    svc.disconnect("mv", eb.ContainerID)
    svc.remove_network("mv")
    assert links_with(parent) == [parent]  # the parent is the test's; left alone


def test_vlan_bad_input(svc, lan, unique):
    parent, sub, _, _ = lan
    with pytest.raises(InvalidParameter, match="parent"):
        svc.create_network("x1", "macvlan", IPAM(Config=[IPAMConfig(Subnet=sub)]))
    with pytest.raises(InvalidParameter, match="does not exist"):
        svc.create_network("x2", "macvlan", IPAM(Config=[IPAMConfig(Subnet=sub)]),
                           options={"parent": unique + "zz"})
    with pytest.raises(InvalidParameter, match="ipvlan_mode"):
        svc.create_network("x3", "ipvlan", IPAM(Config=[IPAMConfig(Subnet=sub)]),
                           options={"parent": parent, "ipvlan_mode": "l9"})
    assert svc.list_networks() == []


@pytest.mark.parametrize("mode", ["l2", "l3"])
def test_ipvlan(svc, netns, lan, mode):
    parent, sub, peer, peer_ip = lan
    svc.create_network("iv", "ipvlan", IPAM(Config=[IPAMConfig(Subnet=sub, Gateway=peer_ip)]),
                       options={"parent": parent, "ipvlan_mode": mode})
    a = netns()
    if not kernel_supports("ipvlan", parent):
        # This kernel has ipvlan compiled out: the error says so and nothing is left.
        with pytest.raises(NetworkError, match="no ipvlan support"):
            svc.connect("iv", cid(), a.path)
        assert svc.get("iv").endpoints == {}
        assert "eth0" not in a.run("ip", "-o", "link").stdout
        return
    ea = svc.connect("iv", cid(), a.path)
    assert a.ping(peer_ip)
    assert peer.ping(ea.IPv4Address.split("/")[0])
