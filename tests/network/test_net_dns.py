"""Embedded DNS: names on the same network resolve, others do not; the rest is forwarded."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from net_helpers import cid, sh

from dockyard.network import IPAM, IPAMConfig, parse_publish
from dockyard.network.errors import InvalidParameter, PortAllocated

pytestmark = pytest.mark.needs_root


def nslookup(ns, name: str, server: str) -> tuple[int, str]:
    p = ns.run("timeout", "5", "/bin/busybox", "nslookup", name, server, timeout=10)
    return p.returncode, p.stdout + p.stderr


def addresses_in(out: str) -> list[str]:
    # busybox prints the server first ("Server: x / Address: x:53"), then the answers.
    answers = out.split("Name:", 1)[1] if "Name:" in out else ""
    return [line.split()[-1] for line in answers.splitlines() if line.startswith("Address")]


def test_names_resolve_on_their_network_only(svc, netns, free_subnet):
    svc.create_network("app", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    svc.create_network("elsewhere", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    web, client, stranger = netns(), netns(), netns()
    ew = svc.connect("app", cid(), web.path, name="web", aliases=["www", "Front"],
                     hostname="webhost")
    svc.connect("app", cid(), client.path, name="client")
    es = svc.connect("elsewhere", cid(), stranger.path, name="stranger")
    gw = svc.dns_address("app")
    assert gw == svc.get("app").IPAM.Config[0].Gateway
    ip_web = ew.IPv4Address.split("/")[0]
    for name in ("web", "www", "front", "webhost", ew.ContainerID[:12]):
        rc, out = nslookup(client, name, gw)
        assert rc == 0 and addresses_in(out) == [ip_web], (name, out)
    # A name from another network is not known here ...
    rc, out = nslookup(client, "stranger", gw)
    assert rc != 0 and "NXDOMAIN" in out
    # ... and that network's server does not know ours.
    rc, out = nslookup(stranger, "web", svc.dns_address("elsewhere"))
    assert rc != 0 and "NXDOMAIN" in out
    rc, out = nslookup(stranger, "stranger", svc.dns_address("elsewhere"))
    assert addresses_in(out) == [es.IPv4Address.split("/")[0]]
    # TCP too (large answers and some resolvers use it).
    r = dns.query.tcp(dns.message.make_query("web", "A"), gw, timeout=3)
    assert r.rcode() == dns.rcode.NOERROR and r.answer[0][0].address == ip_web
    # After disconnect the name is gone.
    svc.disconnect("app", ew.ContainerID)
    rc, out = nslookup(client, "web", gw)
    assert "NXDOMAIN" in out
    # Removing the network stops its server.
    svc.disconnect("elsewhere", es.ContainerID)
    eg = svc.dns_address("elsewhere")
    svc.remove_network("elsewhere")
    # (its address left the host with the bridge, so look at the sockets, not send)
    listening = sh("ss", "-Hln", "-A", "inet").stdout
    assert f"{gw}:53 " in listening and f"{eg}:53 " not in listening


class Upstream:
    """A stand-in for the host's resolver on 127.0.0.1: A for ``*.test``, NXDOMAIN else."""

    def __init__(self, answer: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            name = q.question[0].name.to_text()
            if name.endswith(".test.") and q.question[0].rdtype == dns.rdatatype.A:
                r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A",
                                                    self.answer))
            elif not name.endswith(".test."):
                r.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(r.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


def test_other_names_are_forwarded(svc, netns, free_subnet):
    host_up, own_up = Upstream("192.0.2.77"), Upstream("192.0.2.88")
    hport, oport = host_up.port, own_up.port
    try:
        svc.dns_upstreams = [f"127.0.0.1:{hport}"]
        svc.create_network("fw", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
        a, b = netns(), netns()
        svc.connect("fw", cid(), a.path, name="a")
        svc.connect("fw", cid(), b.path, name="b", dns=[f"127.0.0.1:{oport}"])  # --dns
        gw = svc.dns_address("fw")
        rc, out = nslookup(a, "svc.example.test", gw)
        assert rc == 0 and addresses_in(out) == ["192.0.2.77"], out
        rc, out = nslookup(b, "svc.example.test", gw)
        assert rc == 0 and addresses_in(out) == ["192.0.2.88"], out
        # The upstream's NXDOMAIN is relayed as is.
        rc, out = nslookup(a, "nothing.example.org", gw)
        assert rc != 0 and "NXDOMAIN" in out
    finally:
        host_up.close()
        own_up.close()


def test_no_upstream_is_servfail_not_a_hang(svc, netns, free_subnet):
    svc.create_network("lonely", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    gw = svc.dns_address("lonely")
    r = dns.query.udp(dns.message.make_query("far.away.example", "A"), gw, timeout=3)
    assert r.rcode() == dns.rcode.SERVFAIL


def test_publishing_port_53_does_not_capture_the_embedded_dns(svc, netns, free_subnet, unique):
    svc.create_network("d53", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    a, b = netns(), netns()
    ea = svc.connect("d53", cid(), a.path, name="resolver")
    svc.connect("d53", cid(), b.path, name="asker")
    gw = svc.dns_address("d53")
    # Our DNS holds <gateway>:53, so host port 53 on every address (or on the gateway)
    # cannot be published while it runs: a clear error, not a silent capture ...
    with pytest.raises(PortAllocated, match=r":53 failed"):
        svc.publish("d53", ea.ContainerID, parse_publish("53:53/udp"))
    with pytest.raises(PortAllocated):
        svc.publish("d53", ea.ContainerID, parse_publish(f"{gw}:53:53/udp"))
    # ... and the DNAT chain steps aside for DNS to our listen addresses anyway.
    assert f"ip daddr {gw} meta l4proto {{ tcp, udp }} th dport 53 return" in sh(
        "nft", "list", "table", "inet", unique).stdout
    rc, out = nslookup(b, "resolver", gw)
    assert rc == 0 and addresses_in(out) == [ea.IPv4Address.split("/")[0]], out


def test_network_qualified_names_short_ids_and_links(svc, netns, free_subnet):
    svc.create_network("mynet", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    svc.create_network("other", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    web, client, third = netns(), netns(), netns()
    ew = svc.connect("mynet", cid(), web.path, name="web", aliases=["www"])
    svc.connect("mynet", cid(), client.path, name="client", links=["web:db", "/web:/client/store"])
    svc.connect("mynet", cid(), third.path, name="third")
    gw = svc.dns_address("mynet")
    ip_web = ew.IPv4Address.split("/")[0]
    # Docker answers <name>.<network> and <alias>.<network> on that network, and the short id.
    for name in ("web.mynet", "WWW.mynet", ew.ContainerID[:12], f"{ew.ContainerID[:12]}.mynet"):
        rc, out = nslookup(third, name, gw)
        assert rc == 0 and addresses_in(out) == [ip_web], (name, out)
    # Qualified with another network's name it is not ours: forwarded (no upstream: SERVFAIL).
    r = dns.query.udp(dns.message.make_query("web.other", "A"), gw, timeout=3)
    assert r.rcode() == dns.rcode.SERVFAIL and not r.answer
    # --link aliases answer for the linking container only.
    for alias in ("db", "store", "db.mynet"):
        rc, out = nslookup(client, alias, gw)
        assert rc == 0 and addresses_in(out) == [ip_web], (alias, out)
    rc, out = nslookup(third, "db", gw)
    assert rc != 0 and "NXDOMAIN" in out
    with pytest.raises(InvalidParameter, match="invalid --link"):
        svc.connect("mynet", cid(), netns().path, links=["../etc:x"])
    assert len(svc.get("mynet").endpoints) == 3


def test_legacy_links_are_hosts_lines(svc, netns, free_subnet):
    svc.ensure_predefined(bridge_subnet=free_subnet())
    svc.create_network("apart", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    db, app, lone = cid(), cid(), cid()
    edb = svc.connect("bridge", db, netns().path, name="mydb")
    svc.connect("bridge", app, netns().path, name="app")
    svc.connect("apart", lone, netns().path, name="lone")
    hosts = svc.sandbox_files(app, hostname="app", links=[(db, "database"), (db, "mydb")])[
        "/etc/hosts"]
    ip = edb.IPv4Address.split("/")[0]
    # Docker's line: alias, the target's hostname (its short id by default), its name.
    assert f"{ip}\tdatabase {db[:12]} mydb\n" in hosts
    assert f"{ip}\tmydb {db[:12]}\n" in hosts
    with pytest.raises(InvalidParameter, match="shares no network"):
        svc.sandbox_files(app, hostname="app", links=[(lone, "x")])
