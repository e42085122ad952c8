"""Pure parsing: port specs, IPAM arithmetic, sandbox files. No kernel needed."""

from __future__ import annotations

import ipaddress

import pytest

from dockyard.network import IPAMConfig, PortMapping, parse_publish
from dockyard.network.errors import Conflict, InvalidParameter, PoolExhausted, PortSpecError
from dockyard.network.files import render_hostname, render_hosts, render_resolv_conf
from dockyard.network.ipam import AddressPool, allocate, pick_subnet, validate_config
from dockyard.network.ports import docker_port_bindings, exposed_to_mappings


@pytest.mark.parametrize("spec,want", [
    ("8080:80", [PortMapping(80, "tcp", "", 8080)]),
    ("80", [PortMapping(80, "tcp", "", 0)]),
    ("127.0.0.1:8080:80", [PortMapping(80, "tcp", "127.0.0.1", 8080)]),
    ("127.0.0.1::80/udp", [PortMapping(80, "udp", "127.0.0.1", 0)]),
    ("[::1]:8080:80", [PortMapping(80, "tcp", "::1", 8080)]),
    ("8000-8001:80-81/udp", [PortMapping(80, "udp", "", 8000), PortMapping(81, "udp", "", 8001)]),
    ("8000-8010:80", [PortMapping(80, "tcp", "", 8000, 8010)]),
    ("53/UDP", [PortMapping(53, "udp", "", 0)]),
])
def test_port_specs(spec, want):
    assert parse_publish(spec) == want


@pytest.mark.parametrize("spec,words", [
    ("99999:80", "invalid hostPort: 99999"),
    ("abc", "invalid containerPort: 'abc'"),
    ("80:0", "invalid containerPort: 0"),
    ("8080:80/icmp", "invalid proto: 'icmp'"),
    ("1.2.3.999:80:80", "invalid IP address '1.2.3.999'"),
    ("8000-8002:80-81", "differ in length"),
    ("90-80:80", "ends before it starts"),
    ("", "invalid port spec ''"),
    ("1:2:3:4", "too many colons"),
])
def test_bad_port_specs(spec, words):
    with pytest.raises(PortSpecError) as e:
        parse_publish(spec)
    assert words in str(e.value) and e.value.status == 400


def test_exposed_and_bindings():
    ms = exposed_to_mappings({"80/tcp": {}, "53/udp": {}})
    assert ms == [PortMapping(80, "tcp", "", 0), PortMapping(53, "udp", "", 0)]
    assert docker_port_bindings([PortMapping(80, "tcp", "", 8080)]) == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}


def test_ipam_allocation_rules():
    c = validate_config(IPAMConfig(Subnet="10.9.0.5/29", AuxiliaryAddresses={"r": "10.9.0.2"}))
    assert c.Subnet == "10.9.0.0/29"  # normalized
    got = [str(allocate(c, [])), str(allocate(c, [ipaddress.ip_address("10.9.0.3")]))]
    assert got == ["10.9.0.3", "10.9.0.4"]  # .1 gateway, .2 aux
    used = [ipaddress.ip_address(f"10.9.0.{i}") for i in range(3, 7)]
    with pytest.raises(PoolExhausted):
        allocate(c, used)  # .7 is broadcast
    with pytest.raises(Conflict):
        allocate(c, [], want="10.9.0.1")  # the gateway
    c6 = validate_config(IPAMConfig(Subnet="fd00:1::/64"))
    assert str(allocate(c6, [])) == "fd00:1::2"


def test_default_pools_skip_taken_and_host_routes():
    pools = [AddressPool("172.18.0.0/15", 16), AddressPool("192.168.0.0/16", 20)]
    taken = [ipaddress.ip_network("172.18.0.0/16"), ipaddress.ip_network("172.19.5.0/24")]
    assert str(pick_subnet(pools, taken)) == "192.168.0.0/20"
    with pytest.raises(PoolExhausted):
        pick_subnet([AddressPool("10.0.0.0/24", 24)], [ipaddress.ip_network("10.0.0.0/8")])


def test_ipam_validation():
    with pytest.raises(InvalidParameter, match="too small"):
        validate_config(IPAMConfig(Subnet="10.0.0.0/31"))


def test_sandbox_files():
    hosts = render_hosts("web", ["172.18.0.2/16"], ["db:10.0.0.5", "gw:host-gateway"],
                         host_gateway="172.17.0.1")
    assert hosts.startswith("127.0.0.1\tlocalhost\n")
    assert "10.0.0.5\tdb\n" in hosts and "172.17.0.1\tgw\n" in hosts
    assert hosts.endswith("172.18.0.2\tweb\n")
    with pytest.raises(InvalidParameter, match="add-host"):
        render_hosts("web", [], ["nocolon"])
    with pytest.raises(InvalidParameter, match="'x.y'"):
        render_hosts("web", [], ["a:x.y"])
    assert render_resolv_conf(["172.18.0.1"], ["corp.example"], ["ndots:2"]) == (
        "search corp.example\nnameserver 172.18.0.1\noptions ndots:2\n")
    with pytest.raises(InvalidParameter, match="--dns 'dns.google'"):
        render_resolv_conf(["dns.google"])
    assert render_hostname("web") == "web\n"


def test_port_reservations_ranges_and_release():
    import socket

    from dockyard.network.errors import PortAllocated
    from dockyard.network.portmap import PortReservations

    # Other tests (and other processes) bind ports at the same time: pick a
    # random port whose neighbour is free too, and retry when a stranger
    # takes that neighbour between our check and our reservation.
    for _attempt in range(10):
        r = PortReservations()
        try:
            first = r.reserve(PortMapping(80, "tcp", "127.0.0.1", 0))
            base = first.host_port
            with socket.socket() as s:  # held: nobody else can bind it
                with pytest.raises(OSError):
                    s.bind(("127.0.0.1", base))
            # A range skips the taken port.
            try:
                got = r.reserve(PortMapping(80, "tcp", "127.0.0.1", base, base + 1))
            except PortAllocated:
                continue  # base + 1 belonged to someone else: try another pair
            assert got.host_port == base + 1
            with pytest.raises(PortAllocated, match="port is already allocated"):
                r.reserve(PortMapping(80, "tcp", "127.0.0.1", base))
            r.release(first)
            with socket.socket() as s:
                s.bind(("127.0.0.1", base))
            return
        finally:
            r.close()
    pytest.fail("no two adjacent free ports in 10 attempts")
