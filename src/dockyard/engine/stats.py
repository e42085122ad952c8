"""``docker stats``: cgroup counters in Docker's ``ContainerStatsResponse`` shape.

One sample is the runtime's cgroup stats (CPU, memory, pids, block I/O)
plus the host's total CPU time (``system_cpu_usage``), which clients
divide by to get a percentage; ``precpu_stats`` is the previous sample.
Streaming sends one sample a second; one-shot (``stream=false``) takes two
samples 0.2 s apart so the first answer already has a CPU delta.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from .base import EngineBase
from .errors import Conflict

_TICKS = os.sysconf("SC_CLK_TCK")


def _system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * 1_000_000_000 // _TICKS


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _now() -> str:
    from .logfile import rfc3339nano

    return rfc3339nano(time.time_ns())


class StatsMixin(EngineBase):
    def _sample(self, cid: str) -> dict[str, Any]:
        s = self.runtime.stats(cid)
        limit = s.memory.limit
        if not limit or limit >= 1 << 62:
            limit = _mem_total()
        return {
            "read": _now(),
            "cpu_stats": {
                "cpu_usage": {"total_usage": s.cpu.usage_total_ns,
                              "percpu_usage": s.cpu.percpu_ns or None,
                              "usage_in_kernelmode": s.cpu.usage_kernel_ns,
                              "usage_in_usermode": s.cpu.usage_user_ns},
                "system_cpu_usage": _system_cpu_ns(), "online_cpus": os.cpu_count() or 1,
                "throttling_data": {"periods": s.cpu.periods,
                                    "throttled_periods": s.cpu.throttled_periods,
                                    "throttled_time": s.cpu.throttled_time_ns}},
            "memory_stats": {"usage": s.memory.usage, "max_usage": s.memory.max_usage,
                             "limit": limit, "failcnt": s.memory.failcnt,
                             "stats": dict(s.memory.raw)},
            "pids_stats": {"current": s.pids_current, **({"limit": s.pids_limit}
                                                         if s.pids_limit else {})},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": b.major, "minor": b.minor, "op": b.op, "value": b.value}
                for b in s.blkio_bytes] or None,
                "io_serviced_recursive": [
                {"major": b.major, "minor": b.minor, "op": b.op, "value": b.value}
                for b in s.blkio_ios] or None},
            "num_procs": 0,
        }

    async def stats(self, ref: str, *, stream: bool = True,
                    one_shot: bool = False) -> AsyncIterator[dict[str, Any]]:
        e = self.get(ref)
        rec = e.record
        empty: dict[str, Any] = {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0,
                                 "online_cpus": 0, "throttling_data": {}}
        if not rec.State.Running:
            if stream:
                raise Conflict(f"container {rec.Id} is not running")
            yield {"read": "0001-01-01T00:00:00Z", "preread": "0001-01-01T00:00:00Z",
                   "name": rec.Name, "id": rec.Id, "cpu_stats": empty, "precpu_stats": empty,
                   "memory_stats": {}, "pids_stats": {}, "blkio_stats": {}, "num_procs": 0}
            return
        prev: dict[str, Any] | None = None
        if not stream and not one_shot:
            prev = await asyncio.to_thread(self._sample, rec.Id)
            await asyncio.sleep(0.2)
        while True:
            if not e.record.State.Running:
                return
            try:
                cur = await asyncio.to_thread(self._sample, rec.Id)
            except Exception:
                return
            cur["preread"] = prev["read"] if prev else "0001-01-01T00:00:00Z"
            cur["precpu_stats"] = prev["cpu_stats"] if prev else empty
            cur["name"], cur["id"] = rec.Name, rec.Id
            yield cur
            if not stream:
                return
            prev = cur
            await asyncio.sleep(1.0)
