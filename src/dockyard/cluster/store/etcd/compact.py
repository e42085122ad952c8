"""Automatic compaction of etcd, kube-apiserver's way.

Nothing compacts etcd by itself; Kubernetes' API server does it every
``--etcd-compaction-interval`` (5 minutes): at each tick it compacts to the
revision it saw at the previous tick, so a watch can always resume from a
revision up to one interval old. This does the same. Several dockyard
servers on one etcd each compact; the later ones get "already compacted",
which is fine.
"""

from __future__ import annotations

import asyncio
import logging

from .. import CompactedError, StoreError
from .gateway import Gateway, b64, revision

log = logging.getLogger(__name__)


class Compactor:
    def __init__(self, gw: Gateway, interval: float) -> None:
        self._gw = gw
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """On the running loop; once; nothing if the interval is 0."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="store-etcd-compactor"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        previous = 0
        while True:
            await asyncio.sleep(self.interval)
            try:
                head = await self._gw.call("kv/range", {"key": b64("\0")}, idempotent=True)
                if previous:
                    await self._gw.call(
                        "kv/compaction", {"revision": str(previous)}, idempotent=True
                    )
                previous = revision(head)
            except CompactedError:
                pass  # another server compacted as far or further
            except StoreError as e:
                log.warning("etcd compaction failed, will retry: %s", e)
