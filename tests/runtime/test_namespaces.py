"""Namespaces, observed from inside: pid, uts, ipc, net, mount, cgroup, user; joining by path."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from rt_helpers import CLI, Bundle, in_container

pytestmark = pytest.mark.needs_root


def test_new_namespaces(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.config["hostname"] = "box1"
    bundle.config["domainname"] = "example.org"
    bundle.linux["namespaces"].append({"type": "cgroup"})
    r = in_container(runtime_cli, bundle,
                     "echo $$; hostname; cat /proc/sys/kernel/domainname; ls /sys/class/net; "
                     "cat /proc/self/cgroup | grep -c ':/$'; readlink /proc/self/ns/ipc", unique)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    # runc 1.1 predates the domainname field
    domain = "example.org" if runtime_cli.name == "dockyard" else "(none)"
    assert out[:4] == ["1", "box1", domain, "lo"]
    assert int(out[4]) >= 3  # every hierarchy rooted at the container's cgroup
    assert out[5] != os.readlink("/proc/self/ns/ipc")
    r2 = in_container(runtime_cli, bundle, "readlink /proc/self/ns/net; readlink /proc/self/ns/uts", unique + "b")
    host = [os.readlink("/proc/self/ns/net"), os.readlink("/proc/self/ns/uts")]
    assert r2.stdout.split() != host and len(r2.stdout.split()) == 2


@pytest.fixture
def netns(unique: str) -> Iterator[str]:
    subprocess.run(["ip", "netns", "add", unique], check=True)
    subprocess.run(["ip", "-n", unique, "link", "add", "dy0", "type", "veth", "peer", "name", "dy1"], check=True)
    try:
        yield f"/var/run/netns/{unique}"
    finally:
        subprocess.run(["ip", "netns", "del", unique], check=False)


def test_join_network_namespace_by_path(runtime_cli: CLI, bundle: Bundle, unique: str,
                                        netns: str) -> None:
    bundle.linux["namespaces"] = [ns for ns in bundle.linux["namespaces"] if ns["type"] != "network"]
    bundle.linux["namespaces"].append({"type": "network", "path": netns})
    r = in_container(runtime_cli, bundle, "ls /sys/class/net", unique)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["dy0", "dy1", "lo"]


def test_share_pid_namespace_with_running_container(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["sleep", "30"]
    assert cli.create(unique, bundle).returncode == 0
    assert cli("start", unique).returncode == 0
    pid = cli.state(unique)["pid"]
    bundle.linux["namespaces"] = [ns for ns in bundle.linux["namespaces"] if ns["type"] != "pid"]
    bundle.linux["namespaces"].append({"type": "pid", "path": f"/proc/{pid}/ns/pid"})
    r = in_container(cli, bundle, "cat /proc/1/cmdline; echo; echo $$", unique + "b")
    assert r.returncode == 0, r.stderr
    first, me = r.stdout.split("\n")[:2]
    assert first.startswith("sleep") and int(me) > 1


def test_user_namespace_mappings(cli: CLI, userns_bundle: Bundle, unique: str) -> None:
    r = in_container(cli, userns_bundle, "id -u; cat /proc/self/uid_map /proc/self/gid_map; "
                     "stat -c %u /bin/busybox", unique)
    assert r.returncode == 0, r.stderr
    lines = [line.split() for line in r.stdout.strip().splitlines()]
    assert lines[0] == ["0"]
    assert lines[1] == ["0", "200000", "65536"] and lines[2] == ["0", "200000", "65536"]
    assert lines[3] == ["65534"]  # host root's files are nobody's in here


def test_user_namespace_root_is_not_host_root(cli: CLI, userns_bundle: Bundle, unique: str) -> None:
    userns_bundle.process["capabilities"] = {
        k: ["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE", "CAP_CHOWN"] for k in ("bounding", "effective", "permitted")
    }
    r = in_container(cli, userns_bundle, "echo x > /bin/owned 2>/dev/null || echo DENIED; "
                     "cat /proc/self/status | grep CapEff", unique)
    assert r.returncode == 0, r.stderr
    assert "DENIED" in r.stdout  # the rootfs belongs to host root, not to mapped root


def test_user_namespace_with_default_mounts(runtime_cli: CLI, userns_bundle: Bundle, unique: str) -> None:
    """sysfs, cgroup, devices (bound from the host: no mknod in a user namespace)."""
    r = in_container(runtime_cli, userns_bundle,
                     "ls /sys/fs/cgroup | wc -l; echo x > /dev/null && echo devnull-ok; ls /sys/class/net", unique)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert int(lines[0]) >= 1 and lines[1:] == ["devnull-ok", "lo"]
