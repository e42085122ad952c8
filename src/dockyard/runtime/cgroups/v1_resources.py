"""cgroup v1 resource writers, one function per controller.

Each takes the controller's directory (``None`` when the host lacks that
hierarchy) and the spec's struct, and writes only the fields that are set.
The ordering rules the kernel imposes are commented where they apply.
"""

from __future__ import annotations

import errno
import os

from . import fs
from .errors import CgroupWriteError, UnsupportedResourceError
from .validate import page_size_bytes

# Annotations only: importing oci.runtime loads msgspec, ~20-45 ms of every
# dockyard-runtime call that touches cgroups (delete, kill, pause, ps).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from dockyard.oci.runtime import (
        LinuxBlockIO,
        LinuxCPU,
        LinuxDeviceCgroup,
        LinuxHugepageLimit,
        LinuxMemory,
        LinuxNetwork,
    )


def _need(directory: str | None, controller: str, field: str) -> str:
    if directory is None:
        raise UnsupportedResourceError(
            f"linux.resources.{field}: the {controller} cgroup v1 controller is not mounted "
            "on this host"
        )
    return directory


def _limit(v: int) -> str:
    return "-1" if v == -1 else str(v)


def set_memory(d: str | None, m: LinuxMemory) -> None:
    if (
        m.limit is None
        and m.swap is None
        and m.reservation is None
        and m.swappiness is None
        and not m.disable_oom_killer
    ):
        return
    d = _need(d, "memory", "memory")
    # v1's memsw is memory+swap, and the kernel insists memsw >= memory at all
    # times: when raising, raise memsw first; when lowering, lower memory first.
    has_memsw = fs.exists(d, "memory.memsw.limit_in_bytes")
    if m.swap is not None and m.swap != 0 and not has_memsw:
        raise UnsupportedResourceError(
            "linux.resources.memory.swap: this kernel has no swap accounting "
            "(memory.memsw.limit_in_bytes is missing)"
        )
    limit = m.limit if m.limit is not None and m.limit != 0 else None
    swap = m.swap if m.swap is not None and m.swap != 0 else None
    if limit is not None and swap is not None:
        current = fs.read_int(d, "memory.memsw.limit_in_bytes", -1)
        raising = swap == -1 or (current != -1 and swap > current)
        if raising:
            fs.write(d, "memory.memsw.limit_in_bytes", _limit(swap))
            fs.write(d, "memory.limit_in_bytes", _limit(limit))
        else:
            fs.write(d, "memory.limit_in_bytes", _limit(limit))
            fs.write(d, "memory.memsw.limit_in_bytes", _limit(swap))
    elif limit is not None:
        try:
            fs.write(d, "memory.limit_in_bytes", _limit(limit))
        except CgroupWriteError as e:
            # Raising the limit above an old memsw limit needs memsw raised too;
            # with no swap asked for, memsw follows the memory limit (docker's
            # "--memory without --memory-swap" gives memory+swap = 2×memory,
            # but the runtime spec leaves swap unset: keep memsw = memory).
            if e.errno != errno.EINVAL or not has_memsw:
                raise
            fs.write(d, "memory.memsw.limit_in_bytes", _limit(limit))
            fs.write(d, "memory.limit_in_bytes", _limit(limit))
    elif swap is not None:
        fs.write(d, "memory.memsw.limit_in_bytes", _limit(swap))
    if m.reservation is not None and m.reservation != 0:
        fs.write(d, "memory.soft_limit_in_bytes", _limit(m.reservation))
    if m.swappiness is not None:
        fs.write(d, "memory.swappiness", m.swappiness)
    if m.disable_oom_killer:
        fs.write(d, "memory.oom_control", "1")


def set_cpu(d: str | None, c: LinuxCPU) -> None:
    if not (
        c.shares
        or c.quota
        or c.period
        or c.burst is not None
        or c.realtime_runtime
        or c.realtime_period
        or c.idle is not None
    ):
        return
    d = _need(d, "cpu", "cpu")
    if c.shares:
        fs.write(d, "cpu.shares", c.shares)
        got = fs.read_int(d, "cpu.shares")
        if got != c.shares:
            raise UnsupportedResourceError(
                f"linux.resources.cpu.shares: the kernel set {got} instead of {c.shares}"
            )
    period_failed = False
    if c.period:
        try:
            fs.write(d, "cpu.cfs_period_us", c.period)
        except CgroupWriteError as e:
            # A shorter period can be refused while the old quota/new period
            # would exceed the parent's: set the quota first, then retry.
            if e.errno != errno.EINVAL or not c.quota:
                raise
            period_failed = True
    if c.quota:
        fs.write(d, "cpu.cfs_quota_us", c.quota)
    if period_failed:
        fs.write(d, "cpu.cfs_period_us", c.period or 0)
    if c.burst is not None:
        if not fs.exists(d, "cpu.cfs_burst_us"):
            raise UnsupportedResourceError(
                "linux.resources.cpu.burst: kernel lacks cpu.cfs_burst_us"
            )
        fs.write(d, "cpu.cfs_burst_us", c.burst)
    # The realtime period has to go before the runtime that must fit in it.
    if c.realtime_period:
        fs.write(d, "cpu.rt_period_us", c.realtime_period)
    if c.realtime_runtime:
        fs.write(d, "cpu.rt_runtime_us", c.realtime_runtime)
    if c.idle is not None:
        fs.write(d, "cpu.idle", c.idle)


def init_cpuset(d: str, mountpoint: str) -> None:
    """Give a new v1 cpuset (and each new ancestor) its parent's cpus and mems.

    A fresh v1 cpuset starts empty (unless clone_children), and an empty
    cpuset refuses tasks with ENOSPC; so copy down from the nearest set one.
    """
    chain: list[str] = []
    cur = d
    while cur.startswith(mountpoint + "/"):
        chain.append(cur)
        cur = os.path.dirname(cur)
    parent = mountpoint
    for path in reversed(chain):
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not fs.read(path, name).strip():
                fs.write(path, name, fs.read(parent, name).strip())
        parent = path


def set_cpuset(d: str | None, c: LinuxCPU) -> None:
    if not c.cpus and not c.mems:
        return
    d = _need(d, "cpuset", "cpu.cpus")
    if c.cpus:
        fs.write(d, "cpuset.cpus", c.cpus)
    if c.mems:
        fs.write(d, "cpuset.mems", c.mems)


def set_pids(d: str | None, limit: int) -> None:
    if limit == 0:
        return  # 0 means "not set" (runc): an update must not lift a limit
    d = _need(d, "pids", "pids.limit")
    fs.write(d, "pids.max", "max" if limit < 0 else str(limit))


def set_blkio(d: str | None, b: LinuxBlockIO) -> None:
    throttles = (
        ("blkio.throttle.read_bps_device", b.throttle_read_bps_device),
        ("blkio.throttle.write_bps_device", b.throttle_write_bps_device),
        ("blkio.throttle.read_iops_device", b.throttle_read_iops_device),
        ("blkio.throttle.write_iops_device", b.throttle_write_iops_device),
    )
    if not (b.weight or b.leaf_weight or b.weight_device or any(t for _, t in throttles)):
        return
    d = _need(d, "blkio", "blockIO")
    # With CFQ gone, blkio.weight only exists under BFQ as blkio.bfq.weight.
    weight_file = "blkio.weight" if fs.exists(d, "blkio.weight") else "blkio.bfq.weight"
    if b.weight:
        if not fs.exists(d, weight_file):
            raise UnsupportedResourceError(
                "linux.resources.blockIO.weight: no blkio.weight or blkio.bfq.weight on this host"
            )
        fs.write(d, weight_file, b.weight)
    if b.leaf_weight:
        fs.write(d, "blkio.leaf_weight", b.leaf_weight)
    for wd in b.weight_device or []:
        if wd.weight:
            fs.write(d, weight_file + "_device", f"{wd.major}:{wd.minor} {wd.weight}")
        if wd.leaf_weight:
            fs.write(d, "blkio.leaf_weight_device", f"{wd.major}:{wd.minor} {wd.leaf_weight}")
    for name, devs in throttles:
        for t in devs or []:
            fs.write(d, name, f"{t.major}:{t.minor} {t.rate}")


def _rule(rule: LinuxDeviceCgroup) -> str:
    t = rule.type or "a"
    if t == "a":
        return "a"
    major = "*" if rule.major is None or rule.major == -1 else str(rule.major)
    minor = "*" if rule.minor is None or rule.minor == -1 else str(rule.minor)
    return f"{t} {major}:{minor} {rule.access or 'rwm'}"


def set_devices(d: str | None, rules: list[LinuxDeviceCgroup]) -> None:
    """Apply the rules in order, as the spec says (a later rule wins)."""
    if not rules:
        return
    d = _need(d, "devices", "devices")
    for rule in rules:
        fs.write(d, "devices.allow" if rule.allow else "devices.deny", _rule(rule))


def set_hugetlb(d: str | None, limits: list[LinuxHugepageLimit]) -> None:
    if not limits:
        return
    d = _need(d, "hugetlb", "hugepageLimits")
    for h in limits:
        page_size_bytes(h.page_size)
        name = f"hugetlb.{h.page_size}.limit_in_bytes"
        if not fs.exists(d, name):
            raise UnsupportedResourceError(
                f"linux.resources.hugepageLimits: page size {h.page_size!r} is not offered "
                "by this host"
            )
        fs.write(d, name, h.limit)


def set_network(classid_dir: str | None, prio_dir: str | None, n: LinuxNetwork) -> None:
    if n.class_id is not None:
        fs.write(_need(classid_dir, "net_cls", "network.classID"), "net_cls.classid", n.class_id)
    for p in n.priorities or []:
        fs.write(
            _need(prio_dir, "net_prio", "network.priorities"),
            "net_prio.ifpriomap",
            f"{p.name} {p.priority}",
        )
