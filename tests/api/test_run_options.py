"""``docker run`` options reach the runtime and are observable inside the container."""

from __future__ import annotations

import json

import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root

SCRIPT = r"""
cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us
grep -E '^(NoNewPrivs|CapEff)' /proc/self/status | tr -s '\t' ' '
ulimit -n
df -k /dev/shm | tail -1 | awk '{print $2}'
mount | grep -c ' /scratch type tmpfs'
cat /proc/sys/net/ipv4/ip_forward
id -G
touch /ro-test 2>/dev/null && echo writable || echo read-only
ip -o link | wc -l
"""


def test_resource_and_security_options(shared_daemon: Daemon) -> None:
    r = shared_daemon.docker(
        "run", "--rm", "-m", "64m", "--pids-limit", "33", "--cpus", "0.5",
        "--security-opt", "no-new-privileges", "--cap-drop", "ALL", "--cap-add", "CHOWN",
        "--ulimit", "nofile=100:200", "--shm-size", "8m", "--tmpfs", "/scratch",
        "--sysctl", "net.ipv4.ip_forward=1", "--group-add", "1234", "--read-only",
        "busybox", "sh", "-c", SCRIPT, check=True)
    lines = r.stdout.decode().splitlines()
    assert lines[:3] == [str(64 * 1024 * 1024), "33", "50000"]
    assert lines[3] == "CapEff: 0000000000000001"  # CAP_CHOWN only
    assert lines[4] == "NoNewPrivs: 1"
    assert lines[5:9] == ["100", "8192", "1", "1"]  # nofile, shm KiB, tmpfs, sysctl
    assert "1234" in lines[9].split()  # --group-add
    assert lines[10:12] == ["read-only", "1"]  # --read-only; lo only


def test_namespaces_privileged_and_seccomp(shared_daemon: Daemon) -> None:
    d = shared_daemon
    default = d.docker("run", "--rm", "busybox", "sh", "-c",
                       "grep Seccomp: /proc/self/status; ip -o link | wc -l; ps | wc -l",
                       check=True).stdout.split(b"\n")
    assert default[0].split() == [b"Seccomp:", b"2"]  # the default profile, filtering
    assert default[1] == b"1"  # a network namespace of its own: lo only
    hosty = d.docker("run", "--rm", "--network", "host", "--pid", "host", "busybox", "sh", "-c",
                     "ip -o link | wc -l; ps | wc -l", check=True).stdout.split()
    assert int(hosty[0]) > 1 and int(hosty[1]) > int(default[2])
    priv = d.docker("run", "--rm", "--privileged", "busybox", "sh", "-c",
                    "grep Seccomp: /proc/self/status; grep CapEff /proc/self/status",
                    check=True).stdout.split(b"\n")
    assert priv[0].split() == [b"Seccomp:", b"0"]
    with open("/proc/self/status") as f:
        bnd = next(line.split()[1] for line in f if line.startswith("CapBnd"))
    assert priv[1].split()[1].decode() == bnd
    r = d.docker("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep",
                 "Seccomp:", "/proc/self/status", check=True)
    assert r.stdout.split() == [b"Seccomp:", b"0"]


def test_stats_no_stream(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    d.docker("run", "-d", "--name", unique, "-m", "32m", "busybox", "sleep", "30", check=True)
    try:
        r = d.docker("stats", "--no-stream", "--format", "{{json .}}", unique, check=True)
        doc = json.loads(r.stdout)
        assert doc["Name"] == unique and doc["MemUsage"].endswith("/ 32MiB")
        assert doc["PIDs"] == "1"
        with d.api() as api:
            s = api.get(f"/containers/{unique}/stats", params={"stream": "0"}).json()
        assert s["pids_stats"]["current"] == 1 and s["memory_stats"]["limit"] == 32 << 20
        assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"] > 0
    finally:
        d.docker("rm", "-f", unique)


def test_update_diff_export(shared_daemon: Daemon, unique: str) -> None:
    import io
    import tarfile

    d = shared_daemon
    d.docker("run", "-d", "--name", unique, "-m", "64m", "busybox", "sh", "-c",
             "touch /tmp/new; rm /bin/ls; echo more >> /etc/passwd; sleep 60", check=True)
    try:
        d.docker("update", "-m", "128m", "--memory-swap", "256m", "--pids-limit", "20", unique,
                 check=True)
        r = d.docker("exec", unique, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                     "/sys/fs/cgroup/pids/pids.max", check=True)
        assert r.stdout.split() == [str(128 << 20).encode(), b"20"]
        assert d.docker("inspect", "-f", "{{.HostConfig.Memory}}", unique,
                        check=True).stdout == f"{128 << 20}\n".encode()
        r = d.docker("update", "-m", "1k", unique)
        assert r.returncode != 0 and b"Minimum memory limit" in r.stderr
        diff = d.docker("diff", unique, check=True).stdout.decode().splitlines()
        assert diff == ["C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "C /tmp",
                        "A /tmp/new"]
        tar = d.docker("export", unique, check=True, timeout=60).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            names = set(tf.getnames())
            passwd = tf.extractfile("etc/passwd").read()  # type: ignore[union-attr]
        assert "tmp/new" in names and "bin/ls" not in names and "bin/sh" in names
        assert passwd.endswith(b"more\n")
    finally:
        d.docker("rm", "-f", unique)
