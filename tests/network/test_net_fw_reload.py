"""When the service reloads its nftables tables: only when the rules change, or
when another process may have changed them.

A join or leave on a bridge with ICC on changes no rule (an ``nft -f`` is
~30 ms of every container start), so the tables are left as they are: their
handles stay. A published port changes them. And a second service sharing the
root (another process, as far as the records tell) writes the records and
applies its own rules: then the first cannot trust what it applied last and
must reload, or a port the other published would stay DNATed after it is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from net_helpers import cid, cleanup_prefix, sh

from dockyard.linux import ports
from dockyard.network import IPAM, IPAMConfig, NetworkService, parse_publish

pytestmark = pytest.mark.needs_root


def _service(short_tmp: Path, unique: str) -> NetworkService:
    # No embedded DNS: two services sharing a root would both listen on the gateway.
    return NetworkService(str(short_tmp / "root"), str(short_tmp / "run"), link_prefix=unique,
                          table=unique, default_bridge=unique + "d0", dns=False,
                          firewall_backend="nft")


@pytest.fixture
def s1(unique: str, short_tmp: Path) -> Iterator[NetworkService]:
    s = _service(short_tmp, unique)
    try:
        yield s
    finally:
        try:
            s.destroy()
        finally:
            cleanup_prefix(unique)


def listing(table: str) -> str:
    """Our inet table with handles: new handles mean the table was replaced."""
    return sh("nft", "-a", "list", "table", "inet", table).stdout


def test_join_and_leave_keep_the_tables_a_publish_reloads(s1, netns, free_subnet, unique):
    s1.create_network("n1", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    a, b = netns(), netns()
    ca, cb = cid(), cid()
    s1.connect("n1", ca, a.path)
    before = listing(unique)
    assert "masquerade" in before
    s1.connect("n1", cb, b.path)
    assert listing(unique) == before  # nothing changed: not reloaded
    assert a.ping(s1.endpoints_of(cb)[0].IPv4Address.split("/")[0])  # and traffic flows
    port = ports.free_port("0.0.0.0")
    s1.publish("n1", cb, parse_publish(f"{port}:80"))
    after = listing(unique)
    assert after != before and f"dport {port} " in after
    s1.disconnect("n1", cb)  # its port goes: reloaded
    assert f"dport {port} " not in listing(unique)
    s1.disconnect("n1", ca)
    s1.connect("n1", ca, a.path)
    assert f"dport {port} " not in listing(unique)


def test_another_writer_of_the_records_forces_a_reload(s1, netns, free_subnet, unique,
                                                       short_tmp):
    s1.create_network("n1", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    a, b = netns(), netns()
    ca, cb = cid(), cid()
    s1.connect("n1", ca, a.path)
    s2 = _service(short_tmp, unique)  # same root and table: another process's view
    try:
        s2.connect("n1", cb, b.path)
        port = ports.free_port("0.0.0.0")
        s2.publish("n1", cb, parse_publish(f"{port}:80"))
        assert f"dport {port} " in listing(unique)
        # s1 removes cb: the rules it computes are the ones it applied last,
        # but the kernel holds s2's, with the port: it must reload.
        s1.disconnect("n1", cb)
        assert f"dport {port} " not in listing(unique)
        assert "masquerade" in listing(unique)
    finally:
        s2.close()
