"""cgroup v2: the unified-tree manager on the kernel, plus the v1→v2 conversions.

On this project's hybrid hosts the cgroup2 tree (/sys/fs/cgroup/unified) has
no resource controllers, but freezing, cgroup.kill, membership and cpu.stat
are core v2 features: the v2 manager is exercised there for real. The
controller-less tree also shows the clear error for a limit v2 cannot apply.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from dockyard.oci.runtime import LinuxMemory, LinuxResources
from dockyard.runtime.cgroups import paths
from dockyard.runtime.cgroups.errors import InvalidResourceError, UnsupportedResourceError
from dockyard.runtime.cgroups.v2 import V2Manager
from dockyard.runtime.cgroups.v2_resources import (
    blkio_weight_to_io_weight,
    shares_to_weight,
    swap_to_v2,
)

HOST = paths.host()
needs_unified = pytest.mark.skipif(HOST.unified is None, reason="no cgroup2 mount on this host")


@pytest.fixture
def v2(unique: str) -> Iterator[V2Manager]:
    assert HOST.unified is not None
    # enable=(): never switch controllers on in a hybrid host's cgroup2 root
    # (that would take them from v1 users such as crun's workaround).
    enable = () if HOST.mode == "hybrid" else None
    m = V2Manager(f"/{unique}", paths.parse(f"/{unique}"), None, HOST.unified, enable=enable)
    m.create()
    yield m
    m.destroy()
    assert not os.path.exists(f"{HOST.unified.mountpoint}/{unique}")


@needs_unified
@pytest.mark.needs_root
def test_v2_freeze_kill_and_cpu_stats(v2: V2Manager) -> None:
    p = subprocess.Popen(["/bin/sh", "-c", "read _; while :; do :; done"], stdin=subprocess.PIPE)
    try:
        v2.add(p.pid)
        assert p.stdin is not None
        p.stdin.write(b"\n")
        p.stdin.close()
        with open(f"/proc/{p.pid}/cgroup") as f:
            assert f"0::/{v2.path.strip('/')}\n" in f.read()
        assert v2.pids() == [p.pid]
        time.sleep(0.1)
        v2.freeze()
        assert v2.frozen()
        before = v2.stats().cpu.usage_total_ns
        time.sleep(0.3)
        assert v2.stats().cpu.usage_total_ns - before < 5_000_000
        v2.thaw()
        assert not v2.frozen()
        before = v2.stats().cpu.usage_total_ns
        deadline = time.monotonic() + 20  # thawed: it runs (slowly on a loaded machine)
        while v2.stats().cpu.usage_total_ns - before <= 20_000_000:
            assert time.monotonic() < deadline, "no cpu time after thaw"
            time.sleep(0.1)
        v2.freeze()  # destroy must kill a frozen cgroup too
        v2.destroy()
        assert p.wait(5) == -signal.SIGKILL
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@needs_unified
@pytest.mark.needs_root
@pytest.mark.skipif(HOST.mode != "hybrid", reason="needs a controller-less cgroup2 tree")
def test_v2_limit_without_controller_is_a_clear_error(v2: V2Manager) -> None:
    with pytest.raises(UnsupportedResourceError, match=r"memory.*not enabled"):
        v2.update(LinuxResources(memory=LinuxMemory(limit=64 << 20)))


def test_shares_to_weight_matches_runc() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(0) == 0


def test_blkio_weight_to_io_weight() -> None:
    assert blkio_weight_to_io_weight(10) == 1
    assert blkio_weight_to_io_weight(1000) == 10000
    assert blkio_weight_to_io_weight(500) == 4950


def test_swap_is_memory_plus_swap_in_the_spec() -> None:
    assert swap_to_v2(-1, 100) == -1
    assert swap_to_v2(300, 100) == 200
    assert swap_to_v2(0, 100) is None
    with pytest.raises(InvalidResourceError, match="needs a memory limit"):
        swap_to_v2(300, None)
    with pytest.raises(InvalidResourceError, match="below memory.limit"):
        swap_to_v2(50, 100)


PURE_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V1 = (
    "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "33 31 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
)
HYBRID = V1 + "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"


def test_host_detection() -> None:
    v2 = paths.parse_mountinfo(PURE_V2)
    assert v2.mode == "v2" and v2.unified and v2.unified.mountpoint == "/sys/fs/cgroup"
    v1 = paths.parse_mountinfo(V1)
    assert v1.mode == "v1" and v1.unified is None
    assert v1.v1["cpu"] is v1.v1["cpuacct"]
    assert v1.v1["cpu"].mountpoint == "/sys/fs/cgroup/cpu,cpuacct"
    assert "name=systemd" in v1.v1 and "xattr" not in v1.v1
    hy = paths.parse_mountinfo(HYBRID)
    assert hy.mode == "hybrid" and hy.unified and hy.unified.mountpoint.endswith("/unified")


def test_systemd_slices_expand() -> None:
    assert paths.parse("a-b-c.slice:pre:id").inner == "a.slice/a-b.slice/a-b-c.slice/pre-id.scope"
    assert paths.parse(":pre:id").inner == "system.slice/pre-id.scope"
    assert paths.parse("user.slice::x.slice").inner == "user.slice/x.slice"
    assert paths.parse("-.slice:p:id").inner == "p-id.scope"


def _run_in(m: V2Manager, script: str) -> int:
    p = subprocess.Popen(
        ["/bin/sh", "-c", f"read _; {script}"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    m.add(p.pid)
    assert p.stdin is not None
    p.stdin.write(b"\n")
    p.stdin.close()
    return p.wait(10)


@needs_unified
@pytest.mark.needs_root
def test_v2_device_rules_are_an_ebpf_filter(v2: V2Manager) -> None:
    from dockyard.oci.runtime import LinuxDeviceCgroup as Rule

    v2.update(
        LinuxResources(
            devices=[
                Rule(allow=False, access="rwm"),
                Rule(allow=True, type="c", major=1, minor=5, access="rwm"),  # /dev/zero
                Rule(allow=True, type="c", major=1, minor=3, access="r"),  # /dev/null, read only
            ]
        )
    )
    script = (
        "true </dev/zero || exit 3; true </dev/null || exit 4; "
        "true >/dev/null && exit 5; true </dev/urandom && exit 6; exit 0"
    )
    assert _run_in(v2, script) == 0
    # update replaces the program (the old one is detached, not stacked).
    v2.update(LinuxResources(devices=[Rule(allow=True, access="rwm")]))
    assert _run_in(v2, "true >/dev/null && true </dev/urandom") == 0


def test_v2_writers_write_runcs_values(tmp_path) -> None:
    """The spec → v2 file translation, into a directory shaped like a cgroup.

    (The kernel's enforcement of these files is not what is checked here:
    this host's cgroup2 tree has no resource controllers to enforce them.)
    """
    from dockyard.oci.runtime import LinuxBlockIO, LinuxCPU, LinuxThrottleDevice
    from dockyard.runtime.cgroups import v2_resources as res

    d = str(tmp_path)
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    for name in ("memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max",
                 "cpu.max.burst", "pids.max", "io.weight", "io.max", "cpuset.cpus"):  # fmt: skip
        (tmp_path / name).write_text("")
    res.set_memory(d, LinuxMemory(limit=100 << 20, swap=300 << 20, reservation=50 << 20))
    res.set_cpu(d, LinuxCPU(shares=1024, quota=-1, period=100000, burst=1000, cpus="0"))
    res.set_pids(d, -1)
    res.set_io(d, LinuxBlockIO(weight=500, throttle_read_bps_device=[
        LinuxThrottleDevice(major=8, minor=0, rate=1 << 20)]))  # fmt: skip

    def f(name: str) -> str:
        return (tmp_path / name).read_text()

    assert f("memory.max") == str(100 << 20)
    assert f("memory.swap.max") == str(200 << 20)  # spec swap is memory+swap
    assert f("memory.low") == str(50 << 20)
    assert f("cpu.weight") == "39"
    assert f("cpu.max") == "max 100000"
    assert f("cpu.max.burst") == "1000"
    assert f("cpuset.cpus") == "0"
    assert f("pids.max") == "max"
    assert f("io.weight") == "default 4950"
    assert f("io.max") == "8:0 rbps=1048576"
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    with pytest.raises(UnsupportedResourceError, match=r"pids.limit: the pids controller"):
        res.set_pids(d, 5)


@pytest.mark.parametrize(
    ("mountinfo", "kind", "where"),
    [
        (PURE_V2, "V2Manager", "/sys/fs/cgroup/dockyard/c1"),
        (HYBRID, "V1Manager", "/sys/fs/cgroup/cpu,cpuacct/dockyard/c1"),
        (V1, "V1Manager", "/sys/fs/cgroup/cpu,cpuacct/dockyard/c1"),
    ],
)
def test_new_manager_picks_by_host(monkeypatch, mountinfo: str, kind: str, where: str) -> None:
    from dockyard.runtime.cgroups import new_manager

    monkeypatch.setattr(paths, "host", lambda: paths.parse_mountinfo(mountinfo))
    m = new_manager("/dockyard/c1")
    assert type(m).__name__ == kind
    dirs = getattr(m, "dirs", None)
    assert (dirs["cpu"] if dirs else m.dir) == where  # type: ignore[attr-defined]
    if mountinfo is HYBRID:
        assert m.unified_dir == "/sys/fs/cgroup/unified/dockyard/c1"  # type: ignore[attr-defined]
