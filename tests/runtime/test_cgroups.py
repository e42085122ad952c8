"""cgroups on the real kernel, with real processes (v1 and hybrid hosts; v2 where present).

Each test makes its own cgroup named after ``unique`` and destroys it.
Processes wait on a pipe before running their workload, so they are inside
the cgroup before they allocate, fork or spin.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from dockyard.oci.runtime import (
    LinuxCPU,
    LinuxDeviceCgroup,
    LinuxMemory,
    LinuxPids,
    LinuxResources,
)
from dockyard.runtime.cgroups import CgroupManager, new_manager, paths
from dockyard.runtime.cgroups.errors import (
    InvalidCgroupPathError,
    InvalidResourceError,
    UnsupportedResourceError,
)

pytestmark = pytest.mark.needs_root

HOST = paths.host()


def _all_roots() -> list[str]:
    roots = sorted({h.mountpoint for h in HOST.v1.values()})
    if HOST.unified is not None:
        roots.append(HOST.unified.mountpoint)
    return roots


def _leftovers(name: str) -> list[str]:
    return [f"{r}/{name}" for r in _all_roots() if os.path.exists(f"{r}/{name}")]


class Waiting:
    """A ``sh -c SCRIPT`` that blocks on stdin until ``go()``."""

    def __init__(self, script: str) -> None:
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", f"read _ ; {script}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"\n")
        self.proc.stdin.close()

    def wait(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def procs() -> Iterator[list[Waiting]]:
    started: list[Waiting] = []
    yield started
    for w in started:
        w.stop()


@pytest.fixture
def cgroup(unique: str) -> Iterator[list[CgroupManager]]:
    """Managers made in the test; destroyed (and checked gone) afterwards."""
    made: list[CgroupManager] = []
    yield made
    for m in made:
        m.destroy()
    assert _leftovers(unique) == []


def _manager(
    made: list[CgroupManager], path: str, r: LinuxResources | None = None
) -> CgroupManager:
    m = new_manager(path, r)
    made.append(m)
    m.create()
    return m


def _own(pid: int) -> dict[str, str]:
    """/proc/PID/cgroup for the hierarchies mounted here (an unmounted v1
    hierarchy the kernel keeps alive still shows up there, at "/")."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                if c in HOST.v1 or (c == "" and HOST.unified is not None):
                    out[c] = path
    return out


def _ctrl_dir(m: CgroupManager, ctrl: str) -> str:
    dirs: dict[str, str] = getattr(m, "dirs", {})
    if ctrl in dirs:
        return dirs[ctrl]
    return str(m.dir)  # type: ignore[attr-defined]


def test_add_puts_a_process_in_every_hierarchy(cgroup, procs, unique) -> None:
    m = _manager(cgroup, f"/{unique}/ctr")
    w = Waiting("sleep 30")
    procs.append(w)
    m.add(w.pid)
    seen = _own(w.pid)
    if HOST.mode in ("v1", "hybrid"):
        for ctrl in HOST.v1:
            assert seen[ctrl] == f"/{unique}/ctr", ctrl
    if HOST.unified is not None:
        # Hybrid: the cgroup2 tree has the process too, as runc and systemd do.
        assert seen[""] == f"/{unique}/ctr"
    assert m.pids() == [w.pid]


def test_systemd_form_maps_to_cgroupfs_path(cgroup, procs, unique) -> None:
    m = _manager(cgroup, f"{unique}-sub.slice:dockyard:c1")
    w = Waiting("sleep 30")
    procs.append(w)
    m.add(w.pid)
    want = f"/{unique}.slice/{unique}-sub.slice/dockyard-c1.scope"
    assert set(_own(w.pid).values()) == {want}


@pytest.mark.skipif(HOST.mode == "v2", reason="v2: our own cgroup holds processes, no controllers below")
def test_relative_path_is_under_our_own_cgroup(cgroup, procs, unique) -> None:
    m = _manager(cgroup, f"{unique}/rel")
    w = Waiting("sleep 30")
    procs.append(w)
    m.add(w.pid)
    mine = _own(os.getpid())
    for ctrl, path in _own(w.pid).items():
        assert path == f"{mine[ctrl].rstrip('/')}/{unique}/rel"
    m.destroy()
    for ctrl, path in mine.items():
        hier = HOST.v1.get(ctrl) if ctrl else HOST.unified
        if hier is not None:
            assert not os.path.exists(f"{hier.mountpoint}{path.rstrip('/')}/{unique}")


@pytest.mark.parametrize(
    "bad", ["/a/../../etc", "../x", "/x/./y", "a:b", "bad:p:n", "x.slice:p/q:n", "/", "a\nb"]
)
def test_bad_cgroups_path_is_refused(bad: str) -> None:
    with pytest.raises(InvalidCgroupPathError, match="linux.cgroupsPath"):
        new_manager(bad, None)


def test_bad_resources_change_nothing(unique: str) -> None:
    r = LinuxResources(memory=LinuxMemory(swappiness=150))
    with pytest.raises(InvalidResourceError, match=r"memory\.swappiness: 150"):
        new_manager(f"/{unique}", r)
    r = LinuxResources(cpu=LinuxCPU(cpus="0-1,x"))
    with pytest.raises(InvalidResourceError, match=r"cpu\.cpus"):
        new_manager(f"/{unique}", r)
    # unified keys are file names in the cgroup, never paths out of it.
    for key in ("../../../etc/passwd", "memory.max/../../x", "cgroup.procs", "cgroup.kill"):
        with pytest.raises(InvalidResourceError, match=r"unified"):
            new_manager(f"/{unique}", LinuxResources(unified={key: "1"}))
    assert _leftovers(unique) == []


@pytest.mark.skipif(HOST.mode == "v2", reason="v1/hybrid behaviour")
def test_unified_keys_on_v1_host_are_refused_before_mkdir(unique: str) -> None:
    m = new_manager(f"/{unique}", LinuxResources(unified={"memory.high": "1M"}))
    with pytest.raises(UnsupportedResourceError, match="unified"):
        m.create()
    assert _leftovers(unique) == []


def test_memory_hog_is_oom_killed_and_counted(cgroup, procs, unique) -> None:
    m = _manager(
        cgroup, f"/{unique}", LinuxResources(memory=LinuxMemory(limit=24 << 20, swap=24 << 20))
    )
    # busybox-less: python writes 200 MiB, far over the 24 MiB limit.
    w = Waiting("exec python3 -c 'x = b\"a\" * (200 << 20)'")
    procs.append(w)
    m.add(w.pid)
    w.go()
    assert w.wait() == -signal.SIGKILL
    assert m.oom_kill_count() == 1
    assert m.stats().memory.oom_kills == 1
    assert m.stats().memory.limit == 24 << 20


def test_fork_loop_is_held_by_pids_max(cgroup, procs, unique) -> None:
    m = _manager(cgroup, f"/{unique}", LinuxResources(pids=LinuxPids(limit=10)))
    w = Waiting(
        "i=0; while [ $i -lt 40 ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; sleep 30"
    )
    procs.append(w)
    m.add(w.pid)
    w.go()
    # dash gives up ("Cannot fork") once pids.max refuses a fork.
    assert w.wait() != 0
    assert w.proc.stderr is not None and b"fork" in w.proc.stderr.read().lower()
    st = m.stats()
    assert st.pids_limit == 10
    left = m.pids()
    assert 1 <= len(left) <= 10 and st.pids_current <= 10
    with open(f"{_ctrl_dir(m, 'pids')}/pids.events") as f:
        assert int(f.read().split()[1]) >= 1  # "max N": refused forks
    m.destroy()  # kills every sleep left in the cgroup
    for pid in left:
        assert (
            not os.path.exists(f"/proc/{pid}")
            or open(f"/proc/{pid}/stat").read().split(") ", 1)[1][0] == "Z"
        )


def _cpu_ns(m: CgroupManager) -> int:
    return m.stats().cpu.usage_total_ns


def test_freeze_stops_a_busy_loop_and_thaw_resumes_it(cgroup, procs, unique) -> None:
    m = _manager(cgroup, f"/{unique}")
    w = Waiting("while :; do :; done")
    procs.append(w)
    m.add(w.pid)
    w.go()
    time.sleep(0.1)
    m.freeze()
    assert m.frozen()
    before = _cpu_ns(m)
    time.sleep(0.3)
    assert _cpu_ns(m) - before < 5_000_000  # < 5 ms in 300 ms: frozen
    with open(f"/proc/{w.pid}/stat") as f:
        assert f.read().split(") ", 1)[1][0] in "DS"  # frozen tasks sleep in the freezer
    m.thaw()
    assert not m.frozen()
    before = _cpu_ns(m)
    deadline = time.monotonic() + 20  # thawed: it runs (slowly on a loaded machine)
    while _cpu_ns(m) - before <= 20_000_000:
        assert time.monotonic() < deadline, "no cpu time after thaw"
        time.sleep(0.1)
    m.freeze()  # a paused container is destroyed too (thawed so SIGKILL lands)
    m.destroy()
    assert w.wait(5) == -signal.SIGKILL


def test_update_changes_live_limits(cgroup, procs, unique) -> None:
    m = _manager(
        cgroup,
        f"/{unique}",
        LinuxResources(
            memory=LinuxMemory(limit=64 << 20),
            pids=LinuxPids(limit=50),
            cpu=LinuxCPU(quota=20000, period=100000, shares=512),
        ),
    )
    w = Waiting("sleep 30")
    procs.append(w)
    m.add(w.pid)
    m.update(
        LinuxResources(
            memory=LinuxMemory(limit=128 << 20, swap=256 << 20),
            pids=LinuxPids(limit=7),
            cpu=LinuxCPU(quota=50000, period=50000),
        )
    )
    st = m.stats()
    assert st.memory.limit == 128 << 20
    assert st.pids_limit == 7
    if HOST.mode == "v2":
        with open(f"{_ctrl_dir(m, 'cpu')}/cpu.max") as f:
            assert f.read().split() == ["50000", "50000"]
    else:
        d = _ctrl_dir(m, "cpu")
        assert open(f"{d}/cpu.cfs_quota_us").read().strip() == "50000"
        assert open(f"{d}/cpu.cfs_period_us").read().strip() == "50000"
        assert open(f"{d}/cpu.shares").read().strip() == "512"  # untouched
        assert st.memory.swap_limit == 256 << 20
    # Lower the memory limit below the new memsw: the writes must go in the right order.
    m.update(LinuxResources(memory=LinuxMemory(limit=32 << 20, swap=32 << 20)))
    assert m.stats().memory.limit == 32 << 20
    # A refused update names the field and leaves the limits as they were.
    with pytest.raises(InvalidResourceError, match="swappiness"):
        m.update(LinuxResources(memory=LinuxMemory(limit=1 << 20, swappiness=101)))
    assert m.stats().memory.limit == 32 << 20


def test_cpuset_pins_the_process(cgroup, procs, unique) -> None:
    m = _manager(
        cgroup, f"/{unique}/nested/deeper", LinuxResources(cpu=LinuxCPU(cpus="0", mems="0"))
    )
    w = Waiting("sleep 30")
    procs.append(w)
    m.add(w.pid)
    with open(f"/proc/{w.pid}/status") as f:
        status = dict(line.split(":\t", 1) for line in f if ":\t" in line)
    assert status["Cpus_allowed_list"].strip() == "0"


@pytest.mark.skipif("devices" not in HOST.v1, reason="v1 devices controller")
def test_device_rules_deny_and_allow(cgroup, procs, unique) -> None:
    rules = [
        LinuxDeviceCgroup(allow=False, access="rwm"),
        LinuxDeviceCgroup(allow=True, type="c", major=1, minor=5, access="rwm"),  # /dev/zero
    ]
    m = _manager(cgroup, f"/{unique}", LinuxResources(devices=rules))
    w = Waiting("true < /dev/zero || exit 3; true > /dev/null || exit 4; exit 0")
    procs.append(w)
    m.add(w.pid)
    w.go()
    # /dev/zero opens; /dev/null (c 1:3) is denied → the shell's redirect fails.
    assert w.wait() == 4


def test_destroy_kills_everything_and_keeps_what_it_did_not_make(procs, unique) -> None:
    parent = HOST.v1["pids"].mountpoint if "pids" in HOST.v1 else HOST.unified.mountpoint  # type: ignore[union-attr]
    os.mkdir(f"{parent}/{unique}")
    try:
        m = new_manager(f"/{unique}/a/b")
        m.create()
        ws = [Waiting("sleep 30") for _ in range(3)]
        procs.extend(ws)
        for w in ws:
            m.add(w.pid)
        # A child cgroup made inside the container's (as a nested runtime would).
        sub = f"{_ctrl_dir(m, 'pids')}/inner"
        os.mkdir(sub)
        with open(f"{sub}/cgroup.procs", "w") as f:
            f.write(str(ws[0].pid))
        assert m.pids() == sorted(w.pid for w in ws)  # the nested cgroup counts too
        m.destroy()
        assert [w.wait() for w in ws] == [-signal.SIGKILL] * 3
        assert not m.exists()
        m.destroy()  # idempotent
        assert os.path.isdir(f"{parent}/{unique}")  # not ours: kept
        assert not os.path.exists(f"{parent}/{unique}/a")  # ours: gone
    finally:
        new_manager(f"/{unique}").destroy()
    assert _leftovers(unique) == []


def test_stats_report_cpu_and_memory(cgroup, procs, unique) -> None:
    m = _manager(cgroup, f"/{unique}", LinuxResources(memory=LinuxMemory(limit=256 << 20)))
    w = Waiting(
        "exec python3 -c 'import time; x = b\"a\" * (20 << 20); t = time.time()\nwhile time.time() - t < 0.2: pass\ntime.sleep(30)'"
    )
    procs.append(w)
    m.add(w.pid)
    w.go()
    time.sleep(0.6)
    st = m.stats()
    assert st.cpu.usage_total_ns > 50_000_000
    assert st.memory.usage >= 20 << 20
    assert st.memory.max_usage >= st.memory.usage or HOST.mode == "v2"
    assert st.pids_current == 1


def _block_device() -> tuple[int, int] | None:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram")):
            with open(f"/sys/block/{name}/dev") as f:
                major, minor = f.read().strip().split(":")
            return int(major), int(minor)
    return None


@pytest.mark.skipif("blkio" not in HOST.v1 or _block_device() is None, reason="v1 blkio + disk")
def test_blkio_throttle_and_weight(cgroup, unique) -> None:
    from dockyard.oci.runtime import LinuxBlockIO, LinuxThrottleDevice

    dev = _block_device()
    assert dev is not None
    major, minor = dev
    r = LinuxResources(
        block_io=LinuxBlockIO(
            weight=300,
            throttle_read_bps_device=[LinuxThrottleDevice(major=major, minor=minor, rate=1 << 20)],
            throttle_write_iops_device=[LinuxThrottleDevice(major=major, minor=minor, rate=100)],
        )
    )
    m = _manager(cgroup, f"/{unique}", r)
    d = _ctrl_dir(m, "blkio")
    assert open(f"{d}/blkio.throttle.read_bps_device").read().split() == [f"{major}:{minor}", "1048576"]
    assert open(f"{d}/blkio.throttle.write_iops_device").read().split() == [f"{major}:{minor}", "100"]
    weight_file = "blkio.weight" if os.path.exists(f"{d}/blkio.weight") else "blkio.bfq.weight"
    assert "300" in open(f"{d}/{weight_file}").read()


@pytest.mark.skipif("hugetlb" in HOST.v1 or HOST.mode == "v2", reason="hugetlb not on v1 here")
def test_hugetlb_without_a_v1_controller_is_refused_before_mkdir(unique) -> None:
    from dockyard.oci.runtime import LinuxHugepageLimit

    m = new_manager(f"/{unique}", LinuxResources(hugepage_limits=[LinuxHugepageLimit(page_size="2MB", limit=0)]))
    with pytest.raises(UnsupportedResourceError, match=r"hugepageLimits: the hugetlb controller"):
        m.create()
    assert _leftovers(unique) == []


def test_disabled_oom_killer_holds_the_hog_and_destroy_still_kills_it(procs, unique) -> None:
    r = LinuxResources(memory=LinuxMemory(limit=24 << 20, disable_oom_killer=True))
    m = new_manager(f"/{unique}", r)
    m.create()
    try:
        w = Waiting("exec python3 -c 'x = b\"a\" * (200 << 20)'")
        procs.append(w)
        m.add(w.pid)
        w.go()
        d = _ctrl_dir(m, "memory")

        def under_oom() -> bool:
            with open(f"{d}/memory.oom_control") as f:
                return "under_oom 1" in f.read()

        deadline = time.monotonic() + 10
        while not under_oom() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert under_oom() and w.proc.poll() is None  # held, not killed
        assert m.oom_kill_count() == 0
        assert m.pids() == [w.pid]
    finally:
        m.destroy()
    assert w.wait(10) == -signal.SIGKILL
    assert _leftovers(unique) == []
