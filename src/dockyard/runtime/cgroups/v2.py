"""cgroup v2 manager: one directory in the unified hierarchy.

Controllers must be enabled top-down: each ancestor's
``cgroup.subtree_control`` gets ``+memory +cpu …`` before a child can use
them. We enable what the parent offers (``cgroup.controllers``), restricted
to ``enable`` when given, and never write limits into an ancestor.
"""

from __future__ import annotations

import errno
import os

from . import fs
from . import v2_resources as res
from .common import kill_all, make_dirs, remove_dirs, wait_until
from .errors import CgroupError, CgroupWriteError, UnsupportedResourceError
from .paths import CgroupPath, Hierarchy, resolve
from .validate import check

# Annotations only: importing oci.runtime loads msgspec, ~20-45 ms of every
# dockyard-runtime call that touches cgroups (delete, kill, pause, ps).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from dockyard.oci.runtime import LinuxResources

    from .stats import BlkioEntry, Stats

CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")


class V2Manager:
    """A container's cgroup on the cgroup v2 (unified) hierarchy."""

    def __init__(
        self,
        cgroups_path: str,
        cg: CgroupPath,
        resources: LinuxResources | None,
        unified: Hierarchy,
        enable: tuple[str, ...] | None = None,
    ) -> None:
        self.path = cgroups_path
        self.resources = resources
        self.dir = resolve(unified, "", cg)
        self._mount = unified.mountpoint
        self._enable = CONTROLLERS if enable is None else enable
        self._created: list[str] = []

    def _enable_controllers(self) -> None:
        chain: list[str] = []
        cur = os.path.dirname(self.dir)
        while cur.startswith(self._mount):
            chain.append(cur)
            if cur == self._mount:
                break
            cur = os.path.dirname(cur)
        for d in reversed(chain):
            offered = fs.read(d, "cgroup.controllers").split()
            enabled = fs.read(d, "cgroup.subtree_control").split()
            want = [c for c in self._enable if c in offered and c not in enabled]
            if not want:
                continue
            try:
                fs.write(d, "cgroup.subtree_control", " ".join("+" + c for c in want))
            except CgroupWriteError as e:
                if e.errno != errno.EBUSY:
                    raise
                # cgroup v2's "no internal processes" rule: a cgroup holding
                # processes cannot hand controllers down to children.
                raise CgroupWriteError(
                    f"cgroup: cannot enable {' '.join(want)} below {d}: it holds processes "
                    "(cgroup v2 allows controllers only below cgroups without processes); "
                    "use a cgroupsPath under an empty parent",
                    e.errno,
                ) from None

    def create(self) -> None:
        if self.resources is not None:
            check(self.resources)
        try:
            self._enable_controllers()
            self._created += make_dirs(self.dir, self._mount)
            if self.resources is not None:
                self._set(self.resources)
        except BaseException:
            if self._created:
                remove_dirs([], self._created)
                self._created = []
            raise

    def add(self, pid: int) -> None:
        fs.write(self.dir, "cgroup.procs", pid)

    def unified(self) -> str | None:
        return self.dir

    def join_self(self, unified_done: bool) -> None:
        if not unified_done:
            fs.write(self.dir, "cgroup.procs", 0)

    def update(self, resources: LinuxResources) -> None:
        check(resources)
        self._set(resources)
        self.resources = resources

    def _set(self, r: LinuxResources) -> None:
        d = self.dir
        if r.memory is not None:
            res.set_memory(d, r.memory)
        if r.cpu is not None:
            res.set_cpu(d, r.cpu)
        if r.pids is not None:
            res.set_pids(d, r.pids.limit)
        if r.block_io is not None:
            res.set_io(d, r.block_io)
        if r.hugepage_limits:
            res.set_hugetlb(d, r.hugepage_limits)
        if r.devices:
            from .devices_bpf import attach_device_filter

            attach_device_filter(d, r.devices)
        if r.network is not None and (r.network.class_id is not None or r.network.priorities):
            raise UnsupportedResourceError(
                "linux.resources.network: net_cls/net_prio do not exist on cgroup v2"
            )
        if r.unified:
            res.set_unified(d, r.unified)

    def freeze(self) -> None:
        self._set_frozen("1")

    def thaw(self) -> None:
        self._set_frozen("0")

    def _set_frozen(self, value: str) -> None:
        if not fs.exists(self.dir, "cgroup.freeze"):
            raise UnsupportedResourceError("cgroup: this kernel has no cgroup.freeze (needs 5.2+)")
        fs.write(self.dir, "cgroup.freeze", value)
        # The write starts the freeze; cgroup.events' "frozen" says when it is done.
        if not wait_until(lambda: self._events().get("frozen", 0) == int(value), 5.0):
            raise CgroupError(f"cgroup: {self.dir} did not reach frozen={value} within 5s")

    def _events(self) -> dict[str, int]:
        return fs.read_keyed(self.dir, "cgroup.events")

    def frozen(self) -> bool:
        if not os.path.isdir(self.dir):
            return False
        return fs.read_int(self.dir, "cgroup.freeze") == 1

    def pids(self) -> list[int]:
        return sorted(set(fs.procs(self.dir)))

    def oom_kill_count(self) -> int:
        return fs.read_keyed(self.dir, "memory.events").get("oom_kill", 0)

    def stats(self) -> Stats:
        from .stats import CPUStats, MemoryStats, Stats

        d = self.dir
        cs = fs.read_keyed(d, "cpu.stat")
        cpu = CPUStats(
            usage_total_ns=cs.get("usage_usec", 0) * 1000,
            usage_user_ns=cs.get("user_usec", 0) * 1000,
            usage_kernel_ns=cs.get("system_usec", 0) * 1000,
            throttled_periods=cs.get("nr_throttled", 0),
            throttled_time_ns=cs.get("throttled_usec", 0) * 1000,
            periods=cs.get("nr_periods", 0),
        )
        raw = fs.read_keyed(d, "memory.stat")
        mem = MemoryStats(
            usage=fs.read_int(d, "memory.current"),
            max_usage=fs.read_int(d, "memory.peak"),
            limit=_unlimited(fs.read_int(d, "memory.max")),
            swap_usage=fs.read_int(d, "memory.swap.current"),
            swap_limit=_unlimited(fs.read_int(d, "memory.swap.max")),
            cache=raw.get("file", 0),
            oom_kills=self.oom_kill_count(),
            raw=raw,
            failcnt=fs.read_keyed(d, "memory.events").get("max", 0),
        )
        s = Stats(cpu=cpu, memory=mem)
        s.pids_current = fs.read_int(d, "pids.current")
        s.pids_limit = max(fs.read_int(d, "pids.max"), 0)  # "max" reads 0, as in runc
        s.blkio_bytes, s.blkio_ios = _io_stat(d)
        return s

    def exists(self) -> bool:
        return os.path.isdir(self.dir)

    def destroy(self) -> None:
        if not self.exists():
            return
        if fs.exists(self.dir, "cgroup.kill"):
            # cgroup.kill (5.14+) kills every process, frozen or not, with no
            # race against forks.
            fs.write(self.dir, "cgroup.kill", "1")
        else:
            if self.frozen():
                self.thaw()
            kill_all(self.pids())

        def empty() -> bool:
            if fs.read_keyed(self.dir, "cgroup.events").get("populated", 0) == 0:
                return True
            kill_all(self.pids())
            return False

        if not wait_until(empty, 10.0):
            raise CgroupWriteError(
                f"cgroup: processes {self.pids()} survived SIGKILL in {self.dir}"
            )
        remove_dirs([self.dir], self._created)
        self._created = []


def _unlimited(v: int) -> int:
    # v2 says "max"; runc reports the largest uint64, as v1 reports a huge number.
    return (1 << 64) - 1 if v == -1 else v


def _io_stat(d: str) -> tuple[list[BlkioEntry], list[BlkioEntry]]:
    from .stats import BlkioEntry

    nbytes: list[BlkioEntry] = []
    ios: list[BlkioEntry] = []
    try:
        text = fs.read(d, "io.stat")
    except FileNotFoundError:
        return nbytes, ios
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":", 1))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op, target in (
            ("rbytes", "Read", nbytes),
            ("wbytes", "Write", nbytes),
            ("rios", "Read", ios),
            ("wios", "Write", ios),
        ):
            if key in kv:
                target.append(BlkioEntry(major, minor, op, int(kv[key])))
    return nbytes, ios
