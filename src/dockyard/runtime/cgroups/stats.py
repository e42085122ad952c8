"""What ``runc events --stats`` reports: the stats a manager reads.

A module of its own so that creating, joining and removing a cgroup (every
container's path) never imports ``dataclasses`` (which imports ``inspect``,
~8 ms of CPU per CLI call); only ``events``/``stats`` readers do.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CPUStats:
    usage_total_ns: int = 0
    usage_user_ns: int = 0
    usage_kernel_ns: int = 0
    percpu_ns: list[int] = field(default_factory=list)
    throttled_periods: int = 0
    throttled_time_ns: int = 0
    periods: int = 0  # enforcement periods elapsed (runc's throttling.periods)


@dataclass
class MemoryStats:
    usage: int = 0
    max_usage: int = 0
    limit: int = 0
    swap_usage: int = 0
    swap_limit: int = 0
    cache: int = 0
    oom_kills: int = 0
    raw: dict[str, int] = field(default_factory=dict)
    failcnt: int = 0  # v1: times the limit was hit (runc's usage.failcnt); v2: memory.events max


@dataclass
class BlkioEntry:
    major: int
    minor: int
    op: str  # "Read", "Write", ...
    value: int


@dataclass
class Stats:
    """What ``runc events --stats`` reports, in the same shape."""

    cpu: CPUStats = field(default_factory=CPUStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    pids_current: int = 0
    pids_limit: int = 0
    blkio_bytes: list[BlkioEntry] = field(default_factory=list)
    blkio_ios: list[BlkioEntry] = field(default_factory=list)
