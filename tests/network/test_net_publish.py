"""Published ports: DNAT from the host's address, 127.0.0.1, hairpin; ports in use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from net_helpers import cid, host_address, serve_http, sh, wget_host

from dockyard.linux import ports
from dockyard.network import IPAM, IPAMConfig, parse_publish
from dockyard.network.errors import InvalidParameter, NotFound, PortAllocated

pytestmark = pytest.mark.needs_root


def free_port() -> int:
    return ports.free_port("0.0.0.0")


def test_http_through_published_ports(svc, netns, free_subnet, short_tmp: Path, unique: str):
    svc.create_network("pub", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    web, other = netns(), netns()
    w = cid()
    svc.connect("pub", w, web.path, name="web")
    svc.connect("pub", cid(), other.path, name="other")
    fixed = free_port()
    got = svc.publish("pub", w, parse_publish(f"{fixed}:80") + parse_publish("80")
                      + parse_publish("127.0.0.1::80"))
    assert got[0].host_port == fixed
    rnd, local_only = got[1].host_port, got[2].host_port
    assert rnd not in (0, fixed) and local_only not in (0, fixed, rnd)
    srv = serve_http(web, short_tmp / "www", body="published")
    try:
        host = host_address()
        assert wget_host(f"http://{host}:{fixed}/") == "published"  # host's own address
        assert wget_host(f"http://127.0.0.1:{fixed}/") == "published"  # loopback
        assert wget_host(f"http://127.0.0.1:{rnd}/") == "published"
        assert wget_host(f"http://127.0.0.1:{local_only}/") == "published"
        assert wget_host(f"http://{host}:{local_only}/") is None  # bound to 127.0.0.1 only
        # Hairpin: another container (and the container itself) via the host address.
        assert other.wget(f"http://{host}:{fixed}/") == "published"
        assert web.wget(f"http://{host}:{fixed}/") == "published"
        rules = sh("nft", "list", "table", "inet", unique).stdout
        assert f"tcp dport {fixed} dnat ip to" in rules
        svc.unpublish("pub", w)
        assert f"dport {fixed} " not in sh("nft", "list", "table", "inet", unique).stdout
        assert wget_host(f"http://127.0.0.1:{fixed}/", timeout=1) is None
        # The port is free again for anyone.
        with socket.socket() as s:
            s.bind(("0.0.0.0", fixed))
    finally:
        srv.kill()
        srv.wait()


def test_port_in_use_is_a_clear_error_and_changes_nothing(svc, netns, free_subnet, unique):
    svc.create_network("busy", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    a = netns()
    c = cid()
    svc.connect("busy", c, a.path)
    before = sh("nft", "list", "table", "inet", unique).stdout
    ok_port = free_port()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortAllocated) as e:
            svc.publish("busy", c, parse_publish(f"{ok_port}:81") + parse_publish(f"{port}:80"))
        assert f"0.0.0.0:{port} failed: port is already allocated" in str(e.value)
        assert e.value.status == 500
    assert sh("nft", "list", "table", "inet", unique).stdout == before
    assert svc.get("busy").endpoints[c].Ports == []
    with socket.socket() as s:  # the first port of the failed call was released
        s.bind(("0.0.0.0", ok_port))
    # Two containers cannot publish the same host port either.
    b = netns()
    c2 = cid()
    svc.connect("busy", c2, b.path)
    svc.publish("busy", c, parse_publish(f"{ok_port}:80/udp"))
    with pytest.raises(PortAllocated):
        svc.publish("busy", c2, parse_publish(f"{ok_port}:80/udp"))
    svc.publish("busy", c2, parse_publish(f"{ok_port}:80"))  # tcp: another port space


def test_publish_needs_an_endpoint_on_a_bridge(svc, netns, free_subnet):
    svc.create_network("pn", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    with pytest.raises(NotFound):
        svc.publish("pn", cid(), parse_publish("80"))
    svc.ensure_predefined(bridge_subnet=free_subnet())
    a = netns()
    c = cid()
    svc.connect("host", c, a.path)
    with pytest.raises(InvalidParameter, match="only on bridge networks"):
        svc.publish("host", c, parse_publish("80"))


def test_from_outside_and_masquerade(svc, netns, free_subnet, short_tmp: Path, unique: str):
    """An "outside" host: a namespace on a veth link whose only route is its own /24, so
    replies reach containers only through our DNAT and masquerade."""
    lan = free_subnet()
    host_ip, far_ip = lan.replace(".0/24", ".1"), lan.replace(".0/24", ".2")
    out = netns()
    sh("ip", "link", "add", unique + "o0", "type", "veth", "peer", "name", unique + "o1")
    sh("ip", "link", "set", unique + "o1", "netns", out.name)
    sh("ip", "addr", "add", host_ip + "/24", "dev", unique + "o0")
    sh("ip", "link", "set", unique + "o0", "up")
    sh("ip", "netns", "exec", out.name, "ip", "addr", "add", far_ip + "/24", "dev", unique + "o1")
    sh("ip", "netns", "exec", out.name, "ip", "link", "set", unique + "o1", "up")
    svc.create_network("world", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    svc.create_network("sealed", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]),
                       internal=True)
    web, sealed = netns(), netns()
    w = cid()
    svc.connect("world", w, web.path)
    svc.connect("sealed", cid(), sealed.path)
    port = free_port()
    svc.publish("world", w, parse_publish(f"{port}:80"))
    srv = serve_http(web, short_tmp / "www", body="outside-in")
    try:
        assert out.wget(f"http://{host_ip}:{port}/") == "outside-in"  # DNAT in prerouting
        assert web.ping(far_ip)  # masqueraded behind host_ip: the far side has no route back
        assert not sealed.ping(far_ip)  # --internal: no way out
    finally:
        srv.kill()
        srv.wait()


def v6_wildcard_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::", 0))
    except OSError:
        return False
    return True


def test_published_ports_hold_the_ipv6_wildcard_too(svc, netns, free_subnet):
    if not v6_wildcard_works():
        pytest.skip("the host has no IPv6")
    svc.create_network("v6res", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    c = cid()
    svc.connect("v6res", c, netns().path)
    got = svc.publish("v6res", c, parse_publish(f"{free_port()}:80") + parse_publish("81")
                      + parse_publish("82/udp"))
    for m in got:
        kind = socket.SOCK_DGRAM if m.proto == "udp" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET6, kind) as s:  # a v6-only listener cannot steal it
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            with pytest.raises(OSError, match="in use"):
                s.bind(("::", m.host_port))
    svc.unpublish("v6res", c)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:  # released with the v4 one
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", got[0].host_port))
    # A port someone holds on [::] only is refused up front, naming it, and nothing is kept.
    before = sh("nft", "list", "table", "inet", svc.table).stdout
    ok = free_port()
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as taken:
        taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        taken.bind(("::", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortAllocated, match=rf"\[::\]:{port} failed: port is already "):
            svc.publish("v6res", c, parse_publish(f"{ok}:80") + parse_publish(f"{port}:81"))
    assert svc.get("v6res").endpoints[c].Ports == []
    assert sh("nft", "list", "table", "inet", svc.table).stdout == before
    with socket.socket() as s:
        s.bind(("0.0.0.0", ok))  # the first port's reservations were released
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", ok))
