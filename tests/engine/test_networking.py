"""Containers on the network service: the default bridge, -p, user networks.

A private daemon with its own bridge name, subnet and nftables table, so
it can run beside other daemons on the host.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections.abc import Iterator

import pytest
from daemon_helpers import Daemon, new_daemon

pytestmark = pytest.mark.needs_root


@pytest.fixture
def net_daemon(unique: str) -> Iterator[Daemon]:
    subnet = f"10.{random.randint(100, 199)}.{random.randint(0, 255)}.0/24"
    d = new_daemon(["--bridge", f"dyb{unique[3:11]}", "--bip", subnet])
    try:
        yield d
    finally:
        for name in d.docker("ps", "-aq").stdout.split():
            d.docker("rm", "-f", name.decode())
        for net in d.docker("network", "ls", "-q", "--filter", "type=custom").stdout.split():
            d.docker("network", "rm", net.decode())
        d.cleanup()
        import subprocess

        subprocess.run(["ip", "link", "del", f"dyb{unique[3:11]}"], capture_output=True)
        for family in ("inet", "bridge"):  # this daemon's own nftables table
            subprocess.run(["nft", "delete", "table", family, f"dy_dyb{unique[3:11]}"],
                           capture_output=True)


def test_bridge_publish_and_user_network(net_daemon: Daemon, unique: str) -> None:
    d = net_daemon
    r = d.docker("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0", check=True)
    assert b" inet 10." in r.stdout
    d.docker("run", "-d", "--name", unique, "-p", "127.0.0.1::8080", "busybox", "sh", "-c",
             "mkdir /www; echo served > /www/index.html; httpd -f -p 8080 -h /www",
             check=True)
    doc = json.loads(d.docker("inspect", unique, check=True).stdout)[0]
    binding = doc["NetworkSettings"]["Ports"]["8080/tcp"][0]
    port = int(binding["HostPort"])
    assert binding["HostIp"] == "127.0.0.1" and port > 0
    assert doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"].startswith("10.")
    assert f"127.0.0.1:{port}->8080/tcp".encode() in d.docker("port", unique, check=True).stdout \
        or f"127.0.0.1:{port}".encode() in d.docker("port", unique, check=True).stdout
    body = b""
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    assert body == b"served\n"
    d.docker("rm", "-f", unique, check=True)
    # a user-defined network, and a container on it
    net = f"{unique}-net"
    d.docker("network", "create", net, check=True)
    assert net.encode() in d.docker("network", "ls", check=True).stdout
    r = d.docker("run", "--rm", "--network", net, "busybox", "ip", "-o", "-4", "addr", "show",
                 "eth0", check=True)
    assert b"inet " in r.stdout
    # --pull never: the CLI answers any 404 of create by pulling the image,
    # which this offline host cannot; the network's error is what we check
    r = d.docker("run", "--rm", "--pull", "never", "--network", "no-such-net-" + unique,
                 "busybox", "true")
    assert r.returncode == 125 and b"network no-such-net-" in r.stderr and b"not found" in r.stderr
    d.docker("network", "rm", net, check=True)
    r = d.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link", check=True)
    assert r.stdout.count(b"\n") == 1  # lo only


def test_dns_by_name_alias_and_host_gateway_on_a_user_network(net_daemon: Daemon,
                                                                unique: str) -> None:
    d = net_daemon
    net = unique + "-dns"
    # our own subnet: the DNS server listens on its gateway, which must be free
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24"
    d.docker("network", "create", "--subnet", subnet, net, check=True)
    d.docker("run", "-d", "--network", net, "--name", unique + "-a", "--network-alias",
             "db-alias", "busybox", "sleep", "60", check=True)
    for target in (unique + "-a", "db-alias"):
        r = d.docker("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W2", target)
        assert r.returncode == 0 and b"1 packets received" in r.stdout, (target, r.stderr)
    r = d.docker("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W1",
                 "no-such-" + unique)
    assert r.returncode != 0
    doc = json.loads(d.docker("network", "inspect", net, check=True).stdout)[0]
    gw = doc["IPAM"]["Config"][0]["Gateway"]
    # Docker's host-gateway-ip: the default bridge's gateway, whatever the network
    bridge = json.loads(d.docker("network", "inspect", "bridge", check=True).stdout)[0]
    host_gw = bridge["IPAM"]["Config"][0]["Gateway"]
    r = d.docker("run", "--rm", "--network", net, "--add-host", "hgw:host-gateway", "busybox",
                 "cat", "/etc/hosts", "/etc/resolv.conf", check=True)
    assert f"{host_gw}\thgw\n".encode() in r.stdout, r.stdout
    assert f"nameserver {gw}\n".encode() in r.stdout, r.stdout
    d.docker("rm", "-f", unique + "-a", check=True)


def test_network_connect_and_disconnect_running_and_created(net_daemon: Daemon,
                                                            unique: str) -> None:
    d = net_daemon
    net = unique + "-cn"
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24"
    d.docker("network", "create", "--subnet", subnet, net, check=True)
    prefix = subnet.rsplit(".", 1)[0] + "."

    # a running container on the default bridge joins a second network now
    d.docker("run", "-d", "--name", unique, "busybox", "sleep", "60", check=True)
    d.docker("network", "connect", "--alias", "second", net, unique, check=True)
    r = d.docker("exec", unique, "ip", "-o", "-4", "addr", "show", "eth1", check=True)
    assert f"inet {prefix}".encode() in r.stdout, r.stdout
    doc = json.loads(d.docker("inspect", unique, check=True).stdout)[0]
    assert set(doc["NetworkSettings"]["Networks"]) == {"bridge", net}
    # the alias resolves for others on that network
    r = d.docker("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W2", "second")
    assert r.returncode == 0, r.stderr
    # twice is a conflict; a missing network is 404-class; nothing changes
    r = d.docker("network", "connect", net, unique)
    assert r.returncode != 0 and b"already exists" in r.stderr
    r = d.docker("network", "connect", unique + "-nope", unique)
    assert r.returncode != 0 and b"not found" in r.stderr
    # disconnect: eth1 is gone, the record forgets the network
    d.docker("network", "disconnect", net, unique, check=True)
    r = d.docker("exec", unique, "ip", "-o", "link", "show", "eth1")
    assert r.returncode != 0
    doc = json.loads(d.docker("inspect", unique, check=True).stdout)[0]
    assert set(doc["NetworkSettings"]["Networks"]) == {"bridge"}
    r = d.docker("network", "disconnect", net, unique)
    assert r.returncode != 0 and b"not connected" in r.stderr

    # a created container keeps the connection and joins at start (compose's way)
    d.docker("create", "--name", unique + "-c", "busybox", "sleep", "60", check=True)
    d.docker("network", "connect", net, unique + "-c", check=True)
    d.docker("start", unique + "-c", check=True)
    r = d.docker("exec", unique + "-c", "ip", "-o", "-4", "addr", check=True)
    assert f"inet {prefix}".encode() in r.stdout and b"eth1" in r.stdout, r.stdout
    # a network with endpoints cannot be removed
    r = d.docker("network", "rm", net)
    assert r.returncode != 0
    d.docker("rm", "-f", unique, unique + "-c", check=True)


def test_legacy_links_on_the_bridge_and_on_a_user_network(net_daemon: Daemon,
                                                            unique: str) -> None:
    d = net_daemon
    d.docker("run", "-d", "--name", unique + "-srv", "busybox", "sleep", "60", check=True)
    r = d.docker("run", "--rm", "--link", unique + "-srv:db", "busybox", "sh", "-c",
                 "cat /etc/hosts; ping -c1 -W2 db", check=True)
    ip = json.loads(d.docker("inspect", unique + "-srv", check=True).stdout)[0][
        "NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert f"{ip}\tdb ".encode() in r.stdout and b"1 packets received" in r.stdout, r.stdout
    # a missing target is refused before anything runs
    r = d.docker("run", "--rm", "--link", "no-such-" + unique + ":x", "busybox", "true")
    assert r.returncode != 0 and b"could not get container" in r.stderr, r.stderr

    net = unique + "-ln"
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24"
    d.docker("network", "create", "--subnet", subnet, net, check=True)
    d.docker("run", "-d", "--network", net, "--name", unique + "-srv2", "busybox", "sleep",
             "60", check=True)
    r = d.docker("run", "--rm", "--network", net, "--link", unique + "-srv2:db2", "busybox",
                 "ping", "-c1", "-W2", "db2")
    assert r.returncode == 0 and b"1 packets received" in r.stdout, r.stderr
    # the link name is this container's only
    r = d.docker("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W1", "db2")
    assert r.returncode != 0
    d.docker("rm", "-f", unique + "-srv", unique + "-srv2", check=True)


def test_kill9_daemon_keeps_ports_dns_and_rules(net_daemon: Daemon, unique: str) -> None:
    d = net_daemon
    net = unique + "-kr"
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24"
    d.docker("network", "create", "--subnet", subnet, net, check=True)
    d.docker("run", "-d", "--name", unique + "-web", "-p", "127.0.0.1::8080", "busybox", "sh",
             "-c", "mkdir /www; echo alive > /www/index.html; httpd -f -p 8080 -h /www",
             check=True)
    d.docker("run", "-d", "--network", net, "--name", unique + "-db", "busybox", "sleep", "120",
             check=True)
    d.docker("run", "-d", "--network", net, "--name", unique + "-cli", "busybox", "sleep",
             "120", check=True)
    port = int(json.loads(d.docker("inspect", unique + "-web", check=True).stdout)[0][
        "NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])

    def get() -> bytes:
        for _ in range(50):
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            except OSError:
                time.sleep(0.1)
        return b""

    assert get() == b"alive\n"
    d.kill9()
    # no daemon: the kernel's DNAT keeps the port, the bridge keeps the link
    assert get() == b"alive\n"
    d.start()
    assert get() == b"alive\n"
    assert f"127.0.0.1:{port}".encode() in d.docker("port", unique + "-web", check=True).stdout
    # the new daemon answers names again on the user network
    r = d.docker("exec", unique + "-cli", "ping", "-c1", "-W2", unique + "-db")
    assert r.returncode == 0 and b"1 packets received" in r.stdout, r.stderr
    d.docker("rm", "-f", unique + "-web", unique + "-db", unique + "-cli", check=True)


def test_publish_all_exposed_ports(net_daemon: Daemon, unique: str) -> None:
    d = net_daemon
    d.docker("run", "-d", "--name", unique + "-src", "busybox", "sleep", "1", check=True)
    d.docker("commit", "--change", "EXPOSE 8080", "--change", "EXPOSE 9000/udp",
             unique + "-src", unique + "-img:1", check=True)
    d.docker("run", "-d", "-P", "-p", "127.0.0.1::9000/udp", "--name", unique, unique + "-img:1",
             "sh", "-c", "mkdir /www; echo exposed > /www/index.html; httpd -f -p 8080 -h /www",
             check=True)
    ports = json.loads(d.docker("inspect", unique, check=True).stdout)[0][
        "NetworkSettings"]["Ports"]
    assert set(ports) == {"8080/tcp", "9000/udp"}
    assert ports["9000/udp"][0]["HostIp"] == "127.0.0.1"  # -p wins over -P for its port
    port = int(ports["8080/tcp"][0]["HostPort"])
    body = b""
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    assert body == b"exposed\n"
    d.docker("rm", "-f", unique, unique + "-src", check=True)
    d.docker("rmi", unique + "-img:1", check=True)
