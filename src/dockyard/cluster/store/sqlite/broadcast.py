"""Watch fan-out in process: the writer thread hands every committed batch
of events to the broadcaster, which queues each watcher's share on that
watcher's event loop.

Ordering and gaps. ``publish`` runs in the writer thread after COMMIT and
before the writers are answered, under one lock with ``subscribe``. A
subscription returns the last published revision P: every event after P
reaches the subscription, every event up to P is in the table. A watch from
an older revision therefore subscribes first, replays the table up to P,
then drains the subscription - no gap, no duplicate.

Slow watchers. A subscription buffers at most ``MAX_BUFFERED`` events; past
that it drops its buffer and says so (``next`` returns None), and the watch
catches up from the table instead of holding memory for a reader that does
not read (etcd's "slow watcher" path).
"""

from __future__ import annotations

import asyncio
import collections
import threading

from .. import Event, UnavailableError

MAX_BUFFERED = 10_000


class Subscription:
    def __init__(self, prefix: str, loop: asyncio.AbstractEventLoop) -> None:
        self.prefix = prefix
        self.loop = loop
        self._pending: collections.deque[list[Event]] = collections.deque()
        self._count = 0
        self._overflowed = False
        self._closed = False
        self._ready = asyncio.Event()

    def offer(self, events: list[Event]) -> bool:
        """Writer thread: queue this watcher's share. False if its loop is gone."""
        mine = [e for e in events if e.kv.key.startswith(self.prefix)]
        if not mine:
            return True
        try:
            self.loop.call_soon_threadsafe(self._push, mine)
        except RuntimeError:  # the loop was closed under a forgotten watch
            return False
        return True

    def _push(self, events: list[Event]) -> None:
        if self._overflowed:
            return
        self._pending.append(events)
        self._count += len(events)
        if self._count > MAX_BUFFERED:
            self._overflowed = True
            self._pending.clear()
            self._count = 0
        self._ready.set()

    def close(self) -> None:
        """Any thread: the store is closing; wake the watch to end it."""
        try:
            self.loop.call_soon_threadsafe(self._close)
        except RuntimeError:
            pass

    def _close(self) -> None:
        self._closed = True
        self._ready.set()

    async def next(self) -> list[Event] | None:
        """Everything queued so far as one batch; None after an overflow.
        UnavailableError once the store is closed."""
        while not self._pending and not self._overflowed and not self._closed:
            self._ready.clear()
            await self._ready.wait()
        if self._closed:
            raise UnavailableError("the sqlite store was closed under this watch")
        if self._overflowed:
            return None
        batch: list[Event] = []
        while self._pending:
            batch.extend(self._pending.popleft())
        self._count = 0
        return batch


class Broadcaster:
    def __init__(self, revision: int) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._closed = False
        self.revision = revision  # the last published revision

    def subscribe(self, prefix: str) -> tuple[Subscription, int]:
        sub = Subscription(prefix, asyncio.get_running_loop())
        with self._lock:
            if self._closed:
                raise UnavailableError("the sqlite store is closed")
            self._subs.add(sub)
            return sub, self.revision

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, events: list[Event], revision: int) -> None:
        with self._lock:
            self.revision = revision
            if events:
                dead = [s for s in self._subs if not s.offer(events)]
                self._subs.difference_update(dead)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for sub in self._subs:
                sub.close()
            self._subs.clear()

    @property
    def watchers(self) -> int:
        return len(self._subs)
