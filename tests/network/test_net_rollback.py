"""A DNS server that cannot start undoes the whole create/connect: no bridge, veth, rule,
record or listener is left, and the same call works once the port is free again."""

from __future__ import annotations

import socket

import dns.message
import dns.query
import pytest
from net_helpers import cid, links_with, nft_tables, sh

from dockyard.network import IPAM, IPAMConfig, NetworkService
from dockyard.network.errors import NetworkError

pytestmark = pytest.mark.needs_root


def state(unique: str) -> tuple[list[str], str, str]:
    ours = [t for t in nft_tables().splitlines() if unique in t]
    return (links_with(unique), "\n".join(ours),
            sh("nft", "list", "table", "inet", unique, check=False).stdout)


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def service(svc: NetworkService, unique: str, port: int) -> NetworkService:
    # Same root, prefix and table as the fixture's (its teardown cleans up), own DNS port.
    return NetworkService(svc.root, svc.run_root, link_prefix=unique, table=unique,
                          dns_upstreams=[], dns_port=port)


def test_dns_start_failure_rolls_back_create(svc, free_subnet, unique):
    svc.create_network("kept", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    before = state(unique)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("0.0.0.0", 0))  # every address: our <gateway>:port bind must fail
        port = squatter.getsockname()[1]
        s = service(svc, unique, port)
        try:
            s.restore()
            sub = free_subnet()
            with pytest.raises(NetworkError, match=f"embedded DNS cannot listen on .*:{port}"):
                s.create_network("doomed", ipam_=IPAM(Config=[IPAMConfig(Subnet=sub)]))
            assert state(unique) == before  # no bridge, no rule
            assert [n.Name for n in s.list_networks()] == ["kept"]
            assert [n.Name for n in NetworkService(svc.root, svc.run_root, link_prefix=unique,
                                                   table=unique, dns=False).list_networks()
                    ] == ["kept"]  # nor a record on disk
            assert sub.rsplit(".", 1)[0] not in sh("ip", "-o", "addr").stdout
        finally:
            s.close()
    svc.restore()


def test_dns_start_failure_rolls_back_connect(svc, netns, free_subnet, unique):
    port = udp_port()
    first = service(svc, unique, port)
    try:
        first.create_network("app", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
        gw = first.dns_address("app")
    finally:
        first.close()  # the daemon stops; its bridge and rules stay
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind((gw, port))  # someone takes the DNS address meanwhile
        s = service(svc, unique, port)
        try:
            s.restore()  # a daemon must still come up: the failure is recorded, not raised
            assert gw in s.dns_failures
            before = state(unique)
            ns = netns()
            with pytest.raises(NetworkError, match=f"embedded DNS cannot listen on {gw}:{port}"):
                s.connect("app", cid(), ns.path, name="web")
            assert state(unique) == before  # no veth, no rule
            assert "eth0" not in ns.run("ip", "-o", "link").stdout
            assert s.get("app").endpoints == {}
            squatter.close()
            ep = s.connect("app", cid(), ns.path, name="web")  # the next connect retries
            assert s.dns_failures == {}
            r = dns.query.udp(dns.message.make_query("web", "A"), gw, port=port, timeout=3)
            assert r.answer[0][0].address == ep.IPv4Address.split("/")[0]
            s.disconnect("app", ep.ContainerID)
        finally:
            s.close()
    svc.restore()
