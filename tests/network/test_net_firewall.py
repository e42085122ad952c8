"""The same firewall behaviour, with real traffic, under both backends (nft and iptables).

Each test runs twice: the service's constructor forces the backend. What is checked is
traffic (ping, HTTP) plus that removal leaves no rule, chain or jump of ours and keeps
everybody else's rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from net_helpers import cid, cleanup_prefix, host_address, serve_http, sh, wget_host

from dockyard.linux import ports
from dockyard.network import IPAM, IPAMConfig, NetworkService, parse_publish
from dockyard.network.errors import InvalidParameter
from dockyard.network.firewall import select
from dockyard.network.firewall_iptables import IptablesBackend

pytestmark = pytest.mark.needs_root


@pytest.fixture(params=["nft", "iptables"])
def fw(request: pytest.FixtureRequest, unique: str, short_tmp: Path) -> Iterator[NetworkService]:
    s = NetworkService(str(short_tmp / "root"), str(short_tmp / "run"), link_prefix=unique,
                       table=unique, default_bridge=unique + "d0", dns_upstreams=[],
                       firewall_backend=request.param)
    assert s.firewall.name == request.param
    try:
        yield s
    finally:
        try:
            s.destroy()
        finally:
            IptablesBackend(unique).remove()  # only our chains, if a failure left any
            cleanup_prefix(unique)


def net(s: NetworkService, name: str, sub: str, **kw: object) -> None:
    s.create_network(name, ipam_=IPAM(Config=[IPAMConfig(Subnet=sub)]), **kw)  # type: ignore[arg-type]


def iptables_save() -> str:
    return "".join(sh(f"{t}-nft-save", "-t", table).stdout for t in ("iptables", "ip6tables")
                   for table in ("nat", "filter"))


def test_isolation_internal_and_icc(fw, netns, free_subnet):
    net(fw, "n1", free_subnet())
    net(fw, "n2", free_subnet())
    net(fw, "inner", free_subnet(), internal=True)
    net(fw, "quiet", free_subnet(), options={"com.docker.network.bridge.enable_icc": "false"})
    a, a2, b, i1, i2, q1, q2 = (netns() for _ in range(7))
    ea2 = fw.connect("n1", cid(), a2.path)
    fw.connect("n1", cid(), a.path)
    eb = fw.connect("n2", cid(), b.path)
    ei1 = fw.connect("inner", cid(), i1.path)
    fw.connect("inner", cid(), i2.path)
    eq1 = fw.connect("quiet", cid(), q1.path)
    fw.connect("quiet", cid(), q2.path)
    ip = {k: e.IPv4Address.split("/")[0] for k, e in (("a2", ea2), ("b", eb), ("i1", ei1),
                                                      ("q1", eq1))}
    assert a.ping(ip["a2"])  # same bridge: fine
    assert not a.ping(ip["b"])  # another bridge: isolated
    assert i2.ping(ip["i1"])  # inside an internal network: fine
    assert not i1.ping(ip["a2"])  # out of it: dropped
    assert not a.ping(ip["i1"])  # into it: dropped
    assert not q2.ping(ip["q1"])  # ICC off
    assert q2.ping(fw.get("quiet").IPAM.Config[0].Gateway)  # the host still answers


def free_port() -> int:
    return ports.free_port("0.0.0.0")


def test_published_ports_and_masquerade(fw, netns, free_subnet, short_tmp, unique):
    # an "outside" host on its own veth: replies reach containers only through our NAT
    lan = free_subnet()
    host_ip, far_ip = lan.replace(".0/24", ".1"), lan.replace(".0/24", ".2")
    out = netns()
    sh("ip", "link", "add", unique + "o0", "type", "veth", "peer", "name", unique + "o1")
    sh("ip", "link", "set", unique + "o1", "netns", out.name)
    sh("ip", "addr", "add", host_ip + "/24", "dev", unique + "o0")
    sh("ip", "link", "set", unique + "o0", "up")
    sh("ip", "netns", "exec", out.name, "ip", "addr", "add", far_ip + "/24", "dev", unique + "o1")
    sh("ip", "netns", "exec", out.name, "ip", "link", "set", unique + "o1", "up")
    net(fw, "pub", free_subnet())
    web, other = netns(), netns()
    w = cid()
    fw.connect("pub", w, web.path, name="web")
    fw.connect("pub", cid(), other.path, name="other")
    port = free_port()
    local = fw.publish("pub", w, parse_publish(f"{port}:80") + parse_publish("127.0.0.1::80"))[1]
    srv = serve_http(web, short_tmp / "www", body="fw-ok")
    try:
        me = host_address()
        assert wget_host(f"http://{me}:{port}/") == "fw-ok"  # the host's own address
        assert wget_host(f"http://127.0.0.1:{port}/") == "fw-ok"  # loopback
        assert wget_host(f"http://127.0.0.1:{local.host_port}/") == "fw-ok"
        assert wget_host(f"http://{me}:{local.host_port}/", timeout=1) is None  # 127.0.0.1 only
        assert other.wget(f"http://{me}:{port}/") == "fw-ok"  # hairpin
        assert out.wget(f"http://{host_ip}:{port}/") == "fw-ok"  # from outside (prerouting)
        assert web.ping(far_ip)  # masqueraded: the far side has no route back otherwise
        # DNS queries to our gateway are never DNATed, whatever is published
        assert f"{fw.dns_address('pub')}" in fw.firewall.describe()
        fw.unpublish("pub", w)
        assert wget_host(f"http://127.0.0.1:{port}/", timeout=1) is None
    finally:
        srv.kill()
        srv.wait()


def test_rules_go_with_the_network_and_others_stay(fw, netns, free_subnet, unique):
    # Somebody else's rules in the same places: built-in chains and (nft) a table of theirs.
    tag = f"{unique}-foreign"
    theirs = [("nat", "PREROUTING"), ("filter", "FORWARD")]
    for table, chain in theirs:
        sh("iptables-nft", "-t", table, "-A", chain, "-d", "192.0.2.1", "-m", "comment",
           "--comment", tag, "-j", "RETURN")
    sh("nft", "add", "table", "inet", unique + "x")
    sh("nft", "add", "chain", "inet", unique + "x", "c", "{ type filter hook forward priority 0; }")
    try:
        net(fw, "gone", free_subnet())
        c = cid()
        fw.connect("gone", c, netns().path)
        fw.publish("gone", c, parse_publish("80"))
        assert fw.firewall.describe() != ""
        if fw.firewall.name == "iptables":
            saved = iptables_save()
            assert f"-A PREROUTING -j {unique.upper()}-PREROUTING" in saved
            assert f"-A FORWARD -j {unique.upper()}-FORWARD" in saved
            assert unique not in sh("nft", "list", "table", "inet", unique, check=False).stdout
        fw.disconnect("gone", c)
        fw.remove_network("gone")
        assert fw.firewall.describe() == ""
        assert unique.upper() not in iptables_save()  # no chain, no jump left
        assert f"table inet {unique}\n" not in sh("nft", "list", "tables").stdout + "\n"
        saved = iptables_save()
        assert saved.count(tag) == 2  # theirs: untouched, not flushed
        assert f"table inet {unique}x" in sh("nft", "list", "tables").stdout
    finally:
        for table, chain in theirs:
            sh("iptables-nft", "-t", table, "-D", chain, "-d", "192.0.2.1", "-m", "comment",
               "--comment", tag, "-j", "RETURN", check=False)
        sh("nft", "delete", "table", "inet", unique + "x", check=False)


def test_backend_choice_is_checked(unique):
    with pytest.raises(InvalidParameter, match="invalid firewall backend 'pf'"):
        select(unique, "pf")
    assert select(unique).name == "nft"  # this host has nftables: the default
