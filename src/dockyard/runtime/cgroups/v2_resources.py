"""cgroup v2 resource writers, and the v1→v2 conversions runc uses.

The runtime spec speaks v1 (shares, blkio weight, memory+swap); a v2 host
needs them converted: ``cpu.weight`` from shares, ``io.weight`` from blkio
weight, and ``memory.swap.max`` as swap *alone* (spec swap minus limit).
"""

from __future__ import annotations

from . import fs
from .errors import InvalidResourceError, UnsupportedResourceError
from .validate import page_size_bytes

# Annotations only: importing oci.runtime loads msgspec, ~20-45 ms of every
# dockyard-runtime call that touches cgroups (delete, kill, pause, ps).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from dockyard.oci.runtime import LinuxBlockIO, LinuxCPU, LinuxHugepageLimit, LinuxMemory


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) → cpu.weight (1..10000), linearly; 0 stays "unset"."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) → io.weight (1..10000), linearly; 0 stays "unset"."""
    if weight == 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


def swap_to_v2(swap: int, limit: int | None) -> int | None:
    """The spec's memory+swap → memory.swap.max; -1 means "max", None "leave"."""
    if swap == -1:
        return -1
    if swap == 0:
        return None
    if limit is None or limit in (0, -1):
        raise InvalidResourceError(
            "linux.resources.memory.swap: a swap limit needs a memory limit on cgroup v2"
        )
    if limit > swap:
        raise InvalidResourceError(
            f"linux.resources.memory.swap: {swap} is below memory.limit {limit} "
            "(swap is memory+swap)"
        )
    return swap - limit


def _max(v: int) -> str:
    return "max" if v == -1 else str(v)


def _need(d: str, controller: str, field: str) -> None:
    try:
        offered = fs.read(d, "cgroup.controllers").split()
    except FileNotFoundError:
        offered = []
    if controller not in offered:
        raise UnsupportedResourceError(
            f"linux.resources.{field}: the {controller} controller is not enabled for {d}"
        )


def set_memory(d: str, m: LinuxMemory) -> None:
    swap = swap_to_v2(m.swap, m.limit) if m.swap is not None else None
    if not (m.limit or m.reservation or swap is not None):
        return  # swappiness and disableOOMKiller have no v2 equivalent (runc ignores them too)
    _need(d, "memory", "memory")
    # Swap first when lowering would briefly break nothing: v2 limits are independent.
    if swap is not None:
        if not fs.exists(d, "memory.swap.max"):
            raise UnsupportedResourceError(
                "linux.resources.memory.swap: this kernel has no memory.swap.max"
            )
        fs.write(d, "memory.swap.max", _max(swap))
    if m.limit:
        fs.write(d, "memory.max", _max(m.limit))
    if m.reservation:
        fs.write(d, "memory.low", _max(m.reservation))


def set_cpu(d: str, c: LinuxCPU) -> None:
    if c.shares or c.quota or c.period or c.burst is not None or c.idle is not None:
        _need(d, "cpu", "cpu")
    if c.shares:
        fs.write(d, "cpu.weight", shares_to_weight(c.shares))
    if c.quota or c.period:
        quota = "max" if not c.quota or c.quota < 0 else str(c.quota)
        fs.write(d, "cpu.max", f"{quota} {c.period}" if c.period else quota)
    if c.burst is not None:
        fs.write(d, "cpu.max.burst", c.burst)
    if c.idle is not None:
        fs.write(d, "cpu.idle", c.idle)
    if c.realtime_runtime or c.realtime_period:
        raise UnsupportedResourceError(
            "linux.resources.cpu.realtimeRuntime: realtime cpu limits do not exist on cgroup v2"
        )
    if c.cpus or c.mems:
        _need(d, "cpuset", "cpu.cpus")
        if c.cpus:
            fs.write(d, "cpuset.cpus", c.cpus)
        if c.mems:
            fs.write(d, "cpuset.mems", c.mems)


def set_pids(d: str, limit: int) -> None:
    if limit == 0:
        return  # 0 means "not set" (runc): an update must not lift a limit
    _need(d, "pids", "pids.limit")
    fs.write(d, "pids.max", "max" if limit < 0 else str(limit))


def set_io(d: str, b: LinuxBlockIO) -> None:
    throttles = (
        ("rbps", b.throttle_read_bps_device),
        ("wbps", b.throttle_write_bps_device),
        ("riops", b.throttle_read_iops_device),
        ("wiops", b.throttle_write_iops_device),
    )
    if not (b.weight or b.weight_device or any(t for _, t in throttles)):
        return
    _need(d, "io", "blockIO")
    # BFQ takes blkio's own scale; otherwise convert to io.weight's.
    bfq = fs.exists(d, "io.bfq.weight")
    if b.weight:
        if bfq:
            fs.write(d, "io.bfq.weight", b.weight)
        else:
            fs.write(d, "io.weight", f"default {blkio_weight_to_io_weight(b.weight)}")
    for wd in b.weight_device or []:
        if wd.weight:
            if bfq:
                fs.write(d, "io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}")
            else:
                w = blkio_weight_to_io_weight(wd.weight)
                fs.write(d, "io.weight", f"{wd.major}:{wd.minor} {w}")
    for key, devs in throttles:
        for t in devs or []:
            fs.write(d, "io.max", f"{t.major}:{t.minor} {key}={t.rate if t.rate else 'max'}")


def set_hugetlb(d: str, limits: list[LinuxHugepageLimit]) -> None:
    _need(d, "hugetlb", "hugepageLimits")
    for h in limits:
        page_size_bytes(h.page_size)
        name = f"hugetlb.{h.page_size}.max"
        if not fs.exists(d, name):
            raise UnsupportedResourceError(
                f"linux.resources.hugepageLimits: no {name} (hugetlb controller not enabled, "
                "or page size not offered)"
            )
        fs.write(d, name, h.limit)


def set_unified(d: str, unified: dict[str, str]) -> None:
    for key, value in unified.items():
        if not fs.exists(d, key):
            raise UnsupportedResourceError(
                f"linux.resources.unified[{key!r}]: no such file in {d} "
                "(controller not enabled, or unknown key)"
            )
        fs.write(d, key, value)
