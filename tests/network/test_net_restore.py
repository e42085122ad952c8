"""Daemon restart and kill -9: sandboxes keep their traffic; restore() brings the rest back."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import dns.message
import dns.query
import pytest
from net_helpers import links_with, serve_http, sh, wget_host

from dockyard.network import IPAM, IPAMConfig
from dockyard.network.errors import PortAllocated
from dockyard.network.model import PortMapping

pytestmark = pytest.mark.needs_root

DAEMON = textwrap.dedent("""
    import json, sys, time
    from dockyard.network import IPAM, IPAMConfig, NetworkService, parse_publish
    root, prefix, sub, ns_a, ns_b = sys.argv[1:6]
    s = NetworkService(root, root + "-run", link_prefix=prefix, table=prefix, dns_upstreams=[])
    s.create_network("live", ipam_=IPAM(Config=[IPAMConfig(Subnet=sub)]))
    a = s.connect("live", "a" * 64, ns_a, name="web")
    b = s.connect("live", "b" * 64, ns_b, name="client")
    p = s.publish("live", "a" * 64, parse_publish("80"))
    print(json.dumps({"a": a.IPv4Address, "port": p[0].host_port,
                      "gw": s.dns_address("live")}), flush=True)
    time.sleep(600)
""")


def test_kill_9_then_restore(svc, netns, free_subnet, short_tmp: Path, unique: str):
    a, b = netns(), netns()
    proc = subprocess.Popen([sys.executable, "-c", DAEMON, svc.root, unique, free_subnet(),
                             a.path, b.path], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ip_a, port, gw = info["a"].split("/")[0], info["port"], info["gw"]
    srv = serve_http(a, short_tmp / "www", body="still here")
    try:
        # The daemon is gone; the kernel path is not.
        assert b.ping(ip_a)
        assert wget_host(f"http://127.0.0.1:{port}/") == "still here"
        # Someone wipes our rules (a reboot-like loss); a new daemon restores them.
        sh("nft", "delete", "table", "inet", unique)
        assert wget_host(f"http://127.0.0.1:{port}/", timeout=1) is None
        svc.restore()
        assert wget_host(f"http://127.0.0.1:{port}/") == "still here"
        assert b.ping(ip_a)  # untouched sandbox, never reconnected
        r = dns.query.udp(dns.message.make_query("web", "A"), gw, timeout=3)
        assert r.answer[0][0].address == ip_a
        with pytest.raises(PortAllocated):  # the host port is held again
            svc._ports.reserve(PortMapping(1, "tcp", "", port))
        with socket.socket() as s, pytest.raises(OSError):
            s.bind(("0.0.0.0", port))
        # A sandbox that died with the daemon down is released on restore.
        b.delete()
        svc.restore()
        assert [e.Name for e in svc.get("live").endpoints.values()] == ["web"]
        assert svc.connect("live", "c" * 64, netns().path).IPv4Address == \
            info["a"].replace(ip_a, ip_a[:-1] + "3")
    finally:
        srv.kill()
        srv.wait()


def test_restore_sweeps_only_our_orphans(svc, netns, free_subnet, unique: str):
    svc.create_network("kept", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    e = svc.connect("kept", "k" * 64, netns().path)
    # What a kill -9 between "make the veth" and "save the record" leaves behind:
    sh("ip", "link", "add", unique + "vde", "type", "veth", "peer", "name", unique + "pde")
    # ... and a link of someone else's that merely looks similar.
    other = "x" + unique[1:] + "v1"
    sh("ip", "link", "add", other, "type", "veth", "peer", "name", other[:-1] + "2")
    try:
        svc.restore()
        left = links_with(unique)
        assert unique + "vde" not in left and unique + "pde" not in left
        assert e.host_ifname in left and svc.get("kept").bridge in left
        assert other in links_with("x" + unique[1:])
    finally:
        sh("ip", "link", "del", other, check=False)
    # A foreign nftables table beside ours is never touched by our transactions.
    sh("nft", "add", "table", "inet", "x" + unique)
    try:
        sh("nft", "add", "chain", "inet", "x" + unique, "c")
        svc.create_network("more", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
        svc.remove_network("more")
        svc.restore()
        assert "chain c" in sh("nft", "list", "table", "inet", "x" + unique).stdout
    finally:
        sh("nft", "delete", "table", "inet", "x" + unique, check=False)
