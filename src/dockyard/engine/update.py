"""``docker update``: new resource limits for a container, live and on record."""

from __future__ import annotations

import asyncio
from typing import Any

from .base import EngineBase
from .errors import InvalidParameter


class UpdateMixin(EngineBase):
    async def update(self, ref: str, changes: dict[str, Any]) -> list[str]:
        """``docker update``: new limits for the record, and for the live cgroup.

        ``changes`` holds HostConfig resource fields (Memory, MemorySwap,
        CpuShares, NanoCpus, CpuQuota, CpuPeriod, CpusetCpus, PidsLimit) and
        RestartPolicy; they are checked like create's, applied to a running
        container's cgroup first, and recorded only if that worked.
        """
        import msgspec

        from dockyard.oci.runtime import LinuxCPU, LinuxMemory, LinuxPids, LinuxResources

        from .create import validate_host_config
        from .model import HostConfig, RestartPolicy

        e = self.get(ref)
        hc = msgspec.structs.replace(e.record.HostConfig)
        fields = ("Memory", "MemorySwap", "CpuShares", "NanoCpus", "CpuQuota", "CpuPeriod",
                  "CpusetCpus", "PidsLimit", "MemoryReservation")
        for k in fields:
            if changes.get(k) not in (None, 0, ""):
                setattr(hc, k, changes[k])
        if changes.get("RestartPolicy") and changes["RestartPolicy"].get("Name"):
            rp = changes["RestartPolicy"]
            hc.RestartPolicy = RestartPolicy(Name=rp["Name"],
                                             MaximumRetryCount=int(rp.get("MaximumRetryCount") or 0))
        try:
            hc = msgspec.convert(msgspec.to_builtins(hc), HostConfig)
        except msgspec.ValidationError as ex:
            raise InvalidParameter(f"invalid update: {ex}") from None
        validate_host_config(hc)
        if e.record.State.Running:
            mem = LinuxMemory(limit=hc.Memory or None,
                              swap=hc.MemorySwap if hc.MemorySwap else None,
                              reservation=hc.MemoryReservation or None)
            cpu = LinuxCPU(shares=hc.CpuShares or None, cpus=hc.CpusetCpus or None)
            if hc.NanoCpus:
                cpu = msgspec.structs.replace(cpu, period=100000,
                                              quota=hc.NanoCpus * 100000 // 1_000_000_000)
            elif hc.CpuQuota:
                cpu = msgspec.structs.replace(cpu, quota=hc.CpuQuota, period=hc.CpuPeriod or 100000)
            res = LinuxResources(memory=mem, cpu=cpu,
                                 pids=LinuxPids(limit=hc.PidsLimit) if hc.PidsLimit else None)
            try:
                await asyncio.to_thread(self.runtime.update, e.record.Id, res)
            except Exception as ex:
                raise InvalidParameter(f"Cannot update container {e.record.Id}: {ex}") from None
        e.record.HostConfig = hc
        await asyncio.to_thread(self.save, e.record)
        self.event("update", e.record)
        return []
