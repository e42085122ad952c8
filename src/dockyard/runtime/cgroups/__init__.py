"""Control groups for containers: cgroup v1, v2 and hybrid hosts.

Owns: creating a container's cgroup from ``linux.cgroupsPath``, applying
``linux.resources`` (memory and swap, cpu, cpuset, pids, blkio/io, devices,
hugetlb, unified), moving processes in, updating limits of a running
container, freezing and thawing, reading stats and OOM events, and removing
the cgroup afterwards.

Entry point: ``new_manager(path, resources)`` picks the implementation for
this host (v2 unified, v1, or hybrid: v1 controllers with cgroup2 mounted at
/sys/fs/cgroup/unified, as on this project's machines) and returns a
``CgroupManager``.

Modules: ``paths`` (cgroupsPath forms, host detection), ``validate`` (range
checks before any write), ``v1``/``v1_resources`` and ``v2``/``v2_resources``
(managers and per-controller writers), ``devices_bpf`` (v2 device rules),
``fs`` (file I/O with errors naming file and value), ``errors``.

What is not enforced, and why (each says so rather than failing silently,
unless runc also ignores it):

- hugetlb on a hybrid host whose hugetlb controller is only in cgroup v2:
  ``UnsupportedResourceError`` (enabling it in the shared cgroup2 root would
  change the host for everyone); runc fails the same way;
- ``unified`` keys on v1/hybrid hosts: ``UnsupportedResourceError``;
- memory ``kernel``/``kernelTCP`` (deprecated; runc ignores them too), and on
  v2 ``swappiness`` and ``disableOOMKiller`` (no v2 equivalent; as runc);
- v2 device rules are an eBPF program (``devices_bpf``), v1 uses
  devices.allow/deny.

Imports from dockyard: ``oci`` and ``linux`` only.
"""

from __future__ import annotations

# Annotations only: importing oci.runtime loads msgspec, ~20-45 ms of every
# dockyard-runtime call that touches cgroups (delete, kill, pause, ps); and
# ``typing`` (the Protocol) a few more, so it is for the type checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from dockyard.oci.runtime import LinuxResources

    from .stats import BlkioEntry, CPUStats, MemoryStats, Stats
else:
    Protocol = object

__all__ = ["BlkioEntry", "CPUStats", "CgroupManager", "MemoryStats", "Stats", "new_manager"]


def __getattr__(name: str) -> object:
    # The stats classes live in ``stats`` (dataclasses cost every import).
    if name in ("BlkioEntry", "CPUStats", "MemoryStats", "Stats"):
        from . import stats

        return getattr(stats, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class CgroupManager(Protocol):
    """One container's cgroup, across every hierarchy this host has."""

    path: str

    def create(self) -> None:
        """Make the cgroup (every hierarchy) and apply the initial resources.

        Idempotent: an existing cgroup is reused (``update`` semantics).
        """

    def add(self, pid: int) -> None:
        """Move ``pid`` into the cgroup in every hierarchy."""

    def unified(self) -> str | None:
        """The cgroup's cgroup2 directory, if any: a clone can start in it (``CLONE_INTO_CGROUP``)."""

    def join_self(self, unified_done: bool) -> None:
        """Move the calling process, which must have a single thread, into the cgroup.

        ``add(0)`` with the same result, faster: a v1 hierarchy's ``tasks``
        file moves one thread, and for the writer itself the kernel skips
        the global threadgroup lock whose RCU grace period ``cgroup.procs``
        waits for (~10-20 ms on a loaded host); cgroup2 has no such file,
        so ``unified_done`` says the clone already started there.
        """

    def update(self, resources: LinuxResources) -> None:
        """Apply new limits to a live cgroup (``runc update``)."""

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def frozen(self) -> bool: ...

    def pids(self) -> list[int]:
        """Every pid in the cgroup (and its children)."""

    def stats(self) -> Stats: ...

    def oom_kill_count(self) -> int:
        """How many processes the kernel OOM-killed in this cgroup."""

    def exists(self) -> bool: ...

    def destroy(self) -> None:
        """Kill what is left (SIGKILL, after thawing) and remove the cgroup.

        Idempotent; removes nothing it did not create.
        """


def new_manager(cgroups_path: str, resources: LinuxResources | None = None) -> CgroupManager:
    """The manager for ``linux.cgroupsPath`` on this host; nothing is created yet.

    Raises ``InvalidCgroupPathError`` for a malformed or escaping path and
    ``InvalidResourceError`` for out-of-range resources (checked up front so
    that a bad config.json changes nothing). Call ``create()`` next.
    """
    # Imported here, and only the implementation this host needs: the CLI
    # pays for every module it imports, once per container.
    from . import paths, validate

    cg = paths.parse(cgroups_path)
    if resources is not None:
        validate.check(resources)
    host = paths.host()
    if host.mode == "v2":
        from .v2 import V2Manager

        assert host.unified is not None
        return V2Manager(cgroups_path, cg, resources, host.unified)
    from .v1 import V1Manager

    return V1Manager(cgroups_path, cg, resources, host)
