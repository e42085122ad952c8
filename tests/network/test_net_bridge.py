"""Bridge networks on the real kernel: traffic, isolation, internal, ICC, inspect, records."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from net_helpers import cid, links_with, serve_http, sh

from dockyard.network import IPAM, IPAMConfig, NetworkService

pytestmark = pytest.mark.needs_root


def test_two_sandboxes_ping_and_tcp(svc, netns, free_subnet, short_tmp: Path, unique: str):
    sub = free_subnet()
    net = svc.create_network("front", ipam_=IPAM(Config=[IPAMConfig(Subnet=sub)]),
                             options={"com.docker.network.driver.mtu": "1400"})
    a, b = netns(), netns()
    ea = svc.connect("front", cid(), a.path, name="web")
    eb = svc.connect("front", cid(), b.path, name="client")
    net4 = ipaddress.ip_network(sub)
    assert ea.IPv4Address == f"{net4.network_address + 2}/24"
    assert eb.IPv4Address == f"{net4.network_address + 3}/24"
    assert ea.MacAddress.startswith("02:42:")
    # The sandbox side is eth0 with the MTU and the default route via the gateway.
    link = a.run("ip", "-o", "link", "show", "eth0").stdout
    assert "mtu 1400" in link and ea.MacAddress in link
    assert f"default via {net4.network_address + 1}" in a.run("ip", "route").stdout
    ip_a = ea.IPv4Address.split("/")[0]
    assert b.ping(ip_a)
    assert b.ping(str(net4.network_address + 1))  # the gateway on the bridge
    srv = serve_http(a, short_tmp / "www", body="from-a")
    try:
        assert b.wget(f"http://{ip_a}/") == "from-a"
    finally:
        srv.kill()
        srv.wait()
    info = svc.inspect("front")
    assert info["Name"] == "front" and info["Driver"] == "bridge" and info["Scope"] == "local"
    assert info["IPAM"] == {"Driver": "default", "Options": {},
                            "Config": [{"Subnet": sub, "Gateway": str(net4.network_address + 1)}]}
    assert {c["Name"] for c in info["Containers"].values()} == {"web", "client"}
    assert info["Id"] == net.Id and len(net.Id) == 64
    # Disconnect removes the veth (both ends) and frees the address.
    svc.disconnect("front", ea.ContainerID)
    assert "eth0" not in a.run("ip", "-o", "link").stdout
    assert ea.host_ifname not in links_with(unique)
    again = svc.connect("front", cid(), a.path, name="web2")
    assert again.IPv4Address == ea.IPv4Address


def test_isolation_between_bridges(svc, netns, free_subnet):
    svc.create_network("n1", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    svc.create_network("n2", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    a, b, c = netns(), netns(), netns()
    svc.connect("n1", cid(), a.path)
    c_id = cid()
    svc.connect("n1", c_id, c.path)
    eb = svc.connect("n2", cid(), b.path)
    ip_b = eb.IPv4Address.split("/")[0]
    # Both have routes via their gateways and forwarding is on: only our rules stop it.
    assert not a.ping(ip_b)
    assert c.ping(svc.get("n1").IPAM.Config[0].Gateway)
    # A sandbox on both networks reaches both (eth0 and eth1).
    e2 = svc.connect("n2", c_id, c.path)
    assert e2.ifname == "eth1"
    assert c.ping(ip_b)


def test_internal_network_has_no_way_out(svc, netns, free_subnet):
    svc.create_network("outside", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    svc.create_network("inner", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]),
                       internal=True)
    a, b, o = netns(), netns(), netns()
    ea = svc.connect("inner", cid(), a.path)
    svc.connect("inner", cid(), b.path)
    eo = svc.connect("outside", cid(), o.path)
    assert b.ping(ea.IPv4Address.split("/")[0])  # inside the network: fine
    assert not a.ping(eo.IPv4Address.split("/")[0])  # out of it: dropped
    assert "default" not in a.run("ip", "route").stdout  # and no default route given
    assert not svc.get("inner").inspect()["Containers"] == {}


def test_icc_off_blocks_container_to_container(svc, netns, free_subnet):
    svc.create_network("quiet", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]),
                       options={"com.docker.network.bridge.enable_icc": "false"})
    a, b = netns(), netns()
    ea = svc.connect("quiet", cid(), a.path)
    svc.connect("quiet", cid(), b.path)
    assert not b.ping(ea.IPv4Address.split("/")[0])
    assert b.ping(svc.get("quiet").IPAM.Config[0].Gateway)  # the host still answers


def test_records_survive_a_new_service(svc, netns, free_subnet, short_tmp: Path, unique: str):
    sub = free_subnet()
    svc.create_network("keep", ipam_=IPAM(Config=[IPAMConfig(Subnet=sub, IPRange=sub.replace(
        ".0/24", ".128/25"), AuxiliaryAddresses={"printer": sub.replace(".0/24", ".128")})]),
        labels={"team": "blue"})
    a = netns()
    e1 = svc.connect("keep", cid(), a.path)
    assert e1.IPv4Address.split("/")[0].endswith(".129")  # range start, aux skipped
    # A second daemon on the same root (svc still holds the DNS port in this process).
    again = NetworkService(svc.root, svc.run_root, link_prefix=unique, table=unique, dns=False)
    try:
        again.restore()
        n = again.get("keep")
        assert n.Labels == {"team": "blue"} and list(n.endpoints) == [e1.ContainerID]
        b = netns()
        e2 = again.connect("keep", cid(), b.path)
        assert e2.IPv4Address.split("/")[0].endswith(".130")
        assert b.ping(e1.IPv4Address.split("/")[0])
    finally:
        again.close()
    svc.restore()  # reload what `again` wrote, so teardown sees every endpoint


def test_default_pools_and_predefined(svc, netns, unique: str):
    from dockyard.network.ipam import AddressPool

    svc.pools = [AddressPool("10.251.0.0/16", 24)]
    svc.ensure_predefined(bridge_subnet="10.252.7.0/24")
    names = {n.Name: n for n in svc.list_networks()}
    assert set(names) == {"bridge", "host", "none"}
    assert names["bridge"].bridge == unique + "d0"
    assert names["none"].Driver == "null"
    n = svc.create_network("auto")
    n2 = svc.create_network("auto2")
    assert ipaddress.ip_network(n.IPAM.Config[0].Subnet).subnet_of(
        ipaddress.ip_network("10.251.0.0/16"))
    assert n.IPAM.Config[0].Subnet != n2.IPAM.Config[0].Subnet
    a = netns()
    e = svc.connect("bridge", cid(), a.path)
    assert e.IPv4Address == "10.252.7.2/24"
    assert svc.dns_address("bridge") == ""  # the default bridge has no DNS, as Docker's
    assert svc.dns_address("auto") == n.IPAM.Config[0].Gateway
    assert sh("ip", "-o", "addr", "show", unique + "d0").stdout.count("10.252.7.1/24") == 1
