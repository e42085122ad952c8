"""IPv6 on a bridge network: dual-stack endpoints, ping6, AAAA answers."""

from __future__ import annotations

import ipaddress
import os

import dns.message
import dns.query
import pytest
from net_helpers import cid, serve_http, sh, wget_host

from dockyard.network import IPAM, IPAMConfig, parse_publish
from dockyard.network.errors import InvalidParameter

pytestmark = pytest.mark.needs_root


def host_v6() -> str | None:
    out = sh("ip", "-6", "route", "get", "2001:db8::1", check=False).stdout.split()
    return out[out.index("src") + 1] if "src" in out else None


def test_dual_stack(svc, netns, free_subnet, short_tmp):
    v6 = f"fd{os.urandom(5).hex()[:2]}:{os.urandom(2).hex()}:{os.urandom(2).hex()}::/64"
    with pytest.raises(InvalidParameter, match="--ipv6"):
        svc.create_network("nov6", ipam_=IPAM(Config=[IPAMConfig(Subnet=v6)]))
    svc.create_network("ds", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet()),
                                               IPAMConfig(Subnet=v6)]), enable_ipv6=True)
    auto = svc.create_network("auto6", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]),
                              enable_ipv6=True)
    assert ipaddress.ip_network(auto.IPAM.Config[1].Subnet).subnet_of(
        ipaddress.ip_network("fd00::/8"))  # a random ULA /64
    a, b = netns(), netns()
    ea = svc.connect("ds", cid(), a.path, name="six")
    svc.connect("ds", cid(), b.path)
    ip6 = ea.IPv6Address.split("/")[0]
    assert ipaddress.ip_address(ip6) in ipaddress.ip_network(v6)
    assert b.run("ping6", "-c", "1", "-W", "2", ip6).returncode == 0
    assert svc.get("ds").inspect()["EnableIPv6"] is True
    gw = svc.dns_address("ds")
    r = dns.query.udp(dns.message.make_query("six", "AAAA"), gw, timeout=3)
    assert [rr.address for rr in r.answer[0]] == [ip6]
    assert "default via" in b.run("ip", "-6", "route").stdout
    # A published port answers on the host's IPv6 address too (ip6 DNAT).
    mine = host_v6()
    if mine is None:
        pytest.skip("the host has no global IPv6 address to publish on")
    port = svc.publish("ds", ea.ContainerID, parse_publish("80"))[0].host_port
    srv = serve_http(a, short_tmp / "www", body="over-v6")
    try:
        assert wget_host(f"http://[{mine}]:{port}/") == "over-v6"
        assert b.wget(f"http://[{ip6}]/") == "over-v6"
    finally:
        srv.kill()
        srv.wait()
