"""cgroup v1 (and hybrid) manager: one directory per mounted hierarchy.

On a hybrid host (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified with
no controllers) the process is also placed in the same path of the cgroup2
tree, as runc and systemd do: tools that read the v2 tree (``systemd-cgls``,
the ``0::`` line of /proc/PID/cgroup) then see the container where v1 does.
No limits are written there; the v1 controllers enforce them.
"""

from __future__ import annotations

import os
import time

from . import fs
from . import v1_resources as res
from .common import kill_all, make_dirs, remove_dirs, wait_until
from .errors import CgroupError, CgroupWriteError, UnsupportedResourceError
from .paths import CgroupPath, Host, resolve
from .validate import check

# Annotations only: importing oci.runtime loads msgspec, ~20-45 ms of every
# dockyard-runtime call that touches cgroups (delete, kill, pause, ps).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from dockyard.oci.runtime import LinuxResources

    from .stats import BlkioEntry, MemoryStats, Stats


class V1Manager:
    """A container's cgroup on a v1 or hybrid host."""

    def __init__(
        self, cgroups_path: str, cg: CgroupPath, resources: LinuxResources | None, host: Host
    ) -> None:
        self.path = cgroups_path
        self.resources = resources
        self.mode = host.mode
        # controller (or "name=systemd") → directory; co-mounted controllers share one.
        self.dirs: dict[str, str] = {c: resolve(h, c, cg) for c, h in host.v1.items()}
        self._mounts: dict[str, str] = {c: h.mountpoint for c, h in host.v1.items()}
        self.unified_dir: str | None = None
        self._unified_mount = ""
        if host.unified is not None:
            self.unified_dir = resolve(host.unified, "", cg)
            self._unified_mount = host.unified.mountpoint
        self._created: list[str] = []

    # --- layout ---------------------------------------------------------------

    def _all_dirs(self) -> list[str]:
        seen: dict[str, None] = dict.fromkeys(self.dirs.values())
        if self.unified_dir:
            seen[self.unified_dir] = None
        return list(seen)

    def _dir(self, controller: str) -> str | None:
        return self.dirs.get(controller)

    def _preflight(self, r: LinuxResources) -> None:
        """Refuse, before any mkdir, what this host cannot enforce."""
        check(r)
        if r.unified:
            raise UnsupportedResourceError(
                "linux.resources.unified: cgroup v2 keys need a cgroup v2 host; "
                f"this host is {self.mode} with the controllers on v1"
            )
        needs: list[tuple[str, str]] = []
        if r.hugepage_limits:
            needs.append(("hugetlb", "hugepageLimits"))
        if r.pids is not None:
            needs.append(("pids", "pids.limit"))
        if r.devices:
            needs.append(("devices", "devices"))
        if r.network is not None and r.network.class_id is not None:
            needs.append(("net_cls", "network.classID"))
        if r.network is not None and r.network.priorities:
            needs.append(("net_prio", "network.priorities"))
        for ctrl, field in needs:
            if ctrl not in self.dirs:
                raise UnsupportedResourceError(
                    f"linux.resources.{field}: the {ctrl} controller is not mounted as cgroup v1 "
                    f"on this host ({self.mode})"
                )

    # --- CgroupManager --------------------------------------------------------

    def create(self) -> None:
        if self.resources is not None:
            self._preflight(self.resources)
        try:
            for c, d in self.dirs.items():
                self._created += make_dirs(d, self._mounts[c])
            if self.unified_dir:
                self._created += make_dirs(self.unified_dir, self._unified_mount)
            if "cpuset" in self.dirs:
                res.init_cpuset(self.dirs["cpuset"], self._mounts["cpuset"])
            if self.resources is not None:
                self._set(self.resources)
        except BaseException:
            if self._created:
                remove_dirs([], self._created)
                self._created = []
            raise

    def add(self, pid: int) -> None:
        for d in self._all_dirs():
            fs.write(d, "cgroup.procs", pid)

    def unified(self) -> str | None:
        return self.unified_dir

    def join_self(self, unified_done: bool) -> None:
        for d in dict.fromkeys(self.dirs.values()):
            fs.write(d, "tasks", 0)
        if self.unified_dir and not unified_done:
            fs.write(self.unified_dir, "cgroup.procs", 0)

    def update(self, resources: LinuxResources) -> None:
        self._preflight(resources)
        self._set(resources)
        self.resources = resources

    def _set(self, r: LinuxResources) -> None:
        if r.memory is not None:
            res.set_memory(self._dir("memory"), r.memory)
        if r.cpu is not None:
            res.set_cpu(self._dir("cpu"), r.cpu)
            res.set_cpuset(self._dir("cpuset"), r.cpu)
        if r.pids is not None:
            res.set_pids(self._dir("pids"), r.pids.limit)
        if r.block_io is not None:
            res.set_blkio(self._dir("blkio"), r.block_io)
        if r.devices:
            res.set_devices(self._dir("devices"), r.devices)
        if r.hugepage_limits:
            res.set_hugetlb(self._dir("hugetlb"), r.hugepage_limits)
        if r.network is not None:
            res.set_network(self._dir("net_cls"), self._dir("net_prio"), r.network)

    def _freezer(self) -> str:
        d = self._dir("freezer")
        if d is None:
            raise UnsupportedResourceError("cgroup: the freezer controller is not mounted")
        return d

    def freeze(self) -> None:
        self._freeze(5.0)

    def _freeze(self, timeout: float) -> None:
        d = self._freezer()
        # FREEZING can linger while new tasks keep arriving (a fork loop):
        # rewrite FROZEN and, now and then, thaw briefly so the freeze can settle.
        deadline = time.monotonic() + timeout
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if i % 50 == 0:
                fs.write(d, "freezer.state", "THAWED")
                time.sleep(0.01)
            fs.write(d, "freezer.state", "FROZEN")
            if fs.read(d, "freezer.state").strip() == "FROZEN":
                return
            time.sleep(0.0005 if i < 20 else 0.005)
        fs.write(d, "freezer.state", "THAWED")
        raise CgroupError(f"cgroup: {d} did not reach FROZEN within {timeout}s")

    def thaw(self) -> None:
        d = self._freezer()
        fs.write(d, "freezer.state", "THAWED")
        if not wait_until(lambda: fs.read(d, "freezer.state").strip() == "THAWED", 5.0):
            raise CgroupError(f"cgroup: {d} did not reach THAWED within 5s")

    def frozen(self) -> bool:
        d = self._dir("freezer")
        if d is None or not os.path.isdir(d):
            return False
        return fs.read(d, "freezer.state").strip() == "FROZEN"

    def pids(self) -> list[int]:
        for c in ("freezer", "pids", "memory", "cpu", "devices"):
            if c in self.dirs:
                return sorted(set(fs.procs(self.dirs[c])))
        return sorted(set(fs.procs(self.unified_dir))) if self.unified_dir else []

    def oom_kill_count(self) -> int:
        d = self._dir("memory")
        if d is None:
            return 0
        return fs.read_keyed(d, "memory.oom_control").get("oom_kill", 0)

    def stats(self) -> Stats:
        from .stats import Stats

        s = Stats()
        if (d := self._dir("cpuacct")) is not None:
            s.cpu.usage_total_ns = fs.read_int(d, "cpuacct.usage")
            s.cpu.usage_user_ns = fs.read_int(d, "cpuacct.usage_user")
            s.cpu.usage_kernel_ns = fs.read_int(d, "cpuacct.usage_sys")
            try:
                s.cpu.percpu_ns = [int(x) for x in fs.read(d, "cpuacct.usage_percpu").split()]
            except FileNotFoundError:
                pass
        if (d := self._dir("cpu")) is not None:
            cs = fs.read_keyed(d, "cpu.stat")
            s.cpu.throttled_periods = cs.get("nr_throttled", 0)
            s.cpu.throttled_time_ns = cs.get("throttled_time", 0)
            s.cpu.periods = cs.get("nr_periods", 0)
        if (d := self._dir("memory")) is not None:
            s.memory = _memory_stats(d)
        if (d := self._dir("pids")) is not None:
            s.pids_current = fs.read_int(d, "pids.current")
            s.pids_limit = max(fs.read_int(d, "pids.max"), 0)  # "max" reads 0, as in runc
        if (d := self._dir("blkio")) is not None:
            s.blkio_bytes = _blkio(d, "blkio.throttle.io_service_bytes_recursive")
            s.blkio_ios = _blkio(d, "blkio.throttle.io_serviced_recursive")
        return s

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._all_dirs())

    def destroy(self) -> None:
        if not self.exists():
            return
        freezer = self._dir("freezer")
        if not self.pids():
            pass  # the common case (the init was reaped): nothing to freeze or kill
        elif freezer is not None and os.path.isdir(freezer):
            # Freeze, kill, thaw: a frozen fork loop cannot outrun the kill,
            # and SIGKILL is delivered once the tasks are thawed.
            # A task stuck in the kernel (a memcg OOM wait with the OOM killer
            # off) never freezes; SIGKILL still reaches it, so don't wait long.
            try:
                self._freeze(0.3)
            except CgroupError:
                pass
            kill_all(self.pids())
            fs.write(freezer, "freezer.state", "THAWED")
        else:
            kill_all(self.pids())

        def empty() -> bool:
            left = self.pids()
            kill_all(left)
            return not left

        if not wait_until(empty, 10.0):
            raise CgroupWriteError(
                f"cgroup: processes {self.pids()} survived SIGKILL in {self.path}"
            )
        remove_dirs(self._all_dirs(), self._created)
        self._created = []


def _memory_stats(d: str) -> MemoryStats:
    from .stats import MemoryStats

    raw = fs.read_keyed(d, "memory.stat")
    return MemoryStats(
        usage=fs.read_int(d, "memory.usage_in_bytes"),
        max_usage=fs.read_int(d, "memory.max_usage_in_bytes"),
        limit=fs.read_int(d, "memory.limit_in_bytes"),
        swap_usage=fs.read_int(d, "memory.memsw.usage_in_bytes"),
        swap_limit=fs.read_int(d, "memory.memsw.limit_in_bytes"),
        cache=raw.get("total_cache", raw.get("cache", 0)),
        oom_kills=fs.read_keyed(d, "memory.oom_control").get("oom_kill", 0),
        raw=raw,
        failcnt=fs.read_int(d, "memory.failcnt"),
    )


def _blkio(d: str, name: str) -> list[BlkioEntry]:
    from .stats import BlkioEntry

    out: list[BlkioEntry] = []
    try:
        text = fs.read(d, name)
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, minor = parts[0].split(":", 1)
        out.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
    return out
