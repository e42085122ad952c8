"""Range checks on ``linux.resources``, done before anything is written.

A bad value must change nothing, so every check that does not need the
kernel runs here first; the messages name the spec field
(``linux.resources.memory.swappiness``) and what was expected.
"""

from __future__ import annotations

from .errors import InvalidResourceError

# Annotations only: importing oci.runtime loads msgspec, ~20-45 ms of every
# dockyard-runtime call that touches cgroups (delete, kill, pause, ps).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from dockyard.oci.runtime import LinuxResources

# Patterns as strings: ``re`` compiles (and caches) them on first use, so a
# config without these fields costs nothing at import.
_LIST = r"^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$"
_PAGE = r"^(\d+)(KB|MB|GB|TB)$"
_UNIFIED_KEY = r"^[a-z_]+\.[A-Za-z0-9_.]+$"

R = "linux.resources"


def _bad(field: str, value: object, expected: str) -> InvalidResourceError:
    return InvalidResourceError(f"{R}.{field}: {value!r} is invalid, expected {expected}")


def _matches(pattern: str, value: str) -> bool:
    import re  # here, not at the top: most configs never need it

    return re.match(pattern, value) is not None


def page_size_bytes(page_size: str) -> int:
    import re  # here, not at the top: most configs never need it

    m = re.match(_PAGE, page_size)
    if not m:
        raise _bad("hugepageLimits[].pageSize", page_size, "a size like '2MB' or '1GB'")
    mult = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)]
    return int(m.group(1)) * mult


def check(r: LinuxResources) -> None:
    """Raise ``InvalidResourceError`` for the first out-of-range field of ``r``."""
    m = r.memory
    if m is not None:
        for name, v in (("limit", m.limit), ("reservation", m.reservation), ("swap", m.swap)):
            if v is not None and v < -1:
                raise _bad(f"memory.{name}", v, "a byte count, or -1 for unlimited")
        if m.swappiness is not None and not 0 <= m.swappiness <= 100:
            raise _bad("memory.swappiness", m.swappiness, "0..100")
        if m.limit and m.limit > 0 and m.swap and m.swap > 0 and m.swap < m.limit:
            raise _bad(
                "memory.swap", m.swap, f"memory+swap >= memory.limit ({m.limit}); swap is the total"
            )
    c = r.cpu
    if c is not None:
        if c.shares is not None and c.shares != 0 and not 2 <= c.shares <= 262144:
            raise _bad("cpu.shares", c.shares, "2..262144")
        if c.quota is not None and c.quota not in (-1, 0) and c.quota < 1000:
            raise _bad("cpu.quota", c.quota, "-1 (unlimited) or >= 1000 microseconds")
        if c.period is not None and c.period != 0 and not 1000 <= c.period <= 1_000_000:
            raise _bad("cpu.period", c.period, "1000..1000000 microseconds")
        if c.burst is not None and c.burst < 0:
            raise _bad("cpu.burst", c.burst, ">= 0 microseconds")
        for name, lst in (("cpus", c.cpus), ("mems", c.mems)):
            if lst and not _matches(_LIST, lst):
                raise _bad(f"cpu.{name}", lst, "a list like '0-2,4'")
    b = r.block_io
    if b is not None:
        if b.weight is not None and b.weight != 0 and not 10 <= b.weight <= 1000:
            raise _bad("blockIO.weight", b.weight, "10..1000")
        for i, wd in enumerate(b.weight_device or []):
            if wd.weight is not None and wd.weight != 0 and not 10 <= wd.weight <= 1000:
                raise _bad(f"blockIO.weightDevice[{i}].weight", wd.weight, "10..1000")
        throttles = {
            "throttleReadBpsDevice": b.throttle_read_bps_device,
            "throttleWriteBpsDevice": b.throttle_write_bps_device,
            "throttleReadIOPSDevice": b.throttle_read_iops_device,
            "throttleWriteIOPSDevice": b.throttle_write_iops_device,
        }
        for name, devs in throttles.items():
            for i, t in enumerate(devs or []):
                if t.rate < 0 or t.major < 0 or t.minor < 0:
                    raise _bad(f"blockIO.{name}[{i}]", (t.major, t.minor, t.rate), ">= 0")
    for i, d in enumerate(r.devices or []):
        if d.type not in (None, "a", "c", "b"):
            raise _bad(f"devices[{i}].type", d.type, "'a', 'c' or 'b'")
        if d.access is not None and (not d.access or set(d.access) - set("rwm")):
            raise _bad(f"devices[{i}].access", d.access, "some of 'rwm'")
        for name, v in (("major", d.major), ("minor", d.minor)):
            if v is not None and v < -1:
                raise _bad(f"devices[{i}].{name}", v, ">= 0, or -1/absent for any")
    for h in r.hugepage_limits or []:
        page_size_bytes(h.page_size)
        if h.limit < 0:
            raise _bad("hugepageLimits[].limit", h.limit, ">= 0")
    for key, value in (r.unified or {}).items():
        if not _matches(_UNIFIED_KEY, key) or ".." in key:
            raise _bad(f"unified[{key!r}]", key, "a cgroup v2 file name like 'memory.high'")
        if key.startswith("cgroup."):
            raise _bad(f"unified[{key!r}]", key, "a controller file, not a cgroup.* core file")
        if "\n" in value or "\x00" in value:
            raise _bad(f"unified[{key!r}]", value, "a single-line value")
