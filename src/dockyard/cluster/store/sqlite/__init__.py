"""The embedded store: one SQLite file, kine's append-only revision table.

Entry points: ``open(url)`` (used by ``cluster.store.open_store``) and
``SqliteStore(path, compact_interval=..., compact_retention=...)``.

Modules, one concern each:

- ``schema``     the table, pragmas (WAL, synchronous=FULL, incremental
                 auto-vacuum), revision helpers
- ``writer``     the single writer thread with group commit
- ``write``      create / update / delete as writer jobs (compare-and-swap)
- ``read``       get / list / count / history on reader threads
- ``broadcast``  in-process watch fan-out
- ``compact``    incremental compaction, vacuum, WAL truncation, the
                 automatic compactor
- ``lease``      TTL leases and the reaper that deletes their keys

Threads, and why: sqlite3 calls block (a commit with synchronous=FULL waits
for an fsync, ~1-10 ms on common disks), so none runs on the event loop.
Writes go to the writer thread, reads to a small pool of reader threads with
their own connections; coroutines await futures. The loop only filters and
queues events.

Imports from dockyard: ``cluster.store`` only.
"""

from __future__ import annotations

import asyncio
import builtins
import fcntl
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from .. import (
    Event,
    KeyValue,
    ListResult,
    UnavailableError,
    validate,
)
from . import lease, read, schema, write
from .broadcast import Broadcaster
from .compact import Compactor
from .writer import Writer

T = TypeVar("T")

READERS = 4
HISTORY_PAGE = 1000
DEFAULT_COMPACT_INTERVAL = 300.0  # seconds, kube-apiserver's --etcd-compaction-interval
DEFAULT_COMPACT_RETENTION = 1000  # revisions kept behind the head, as kine keeps


def open(url: str) -> SqliteStore:
    """``sqlite:///abs/path.db?compact-interval=S&compact-retention=N`` or a path."""
    if "://" in url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "sqlite" or parts.netloc:
            raise ValueError(f"store url {url!r}: expected sqlite:///absolute/path.db")
        path = urllib.parse.unquote(parts.path)
        query = urllib.parse.parse_qs(parts.query, strict_parsing=False)
    else:
        path, query = url, {}
    options: dict[str, float] = {}
    for name, value in query.items():
        if name not in ("compact-interval", "compact-retention"):
            raise ValueError(
                f"store url {url!r}: unknown option {name!r}"
                " (expected compact-interval or compact-retention)"
            )
        try:
            number = float(value[-1])
        except ValueError:
            raise ValueError(
                f"store url {url!r}: {name} must be a number, got {value[-1]!r}"
            ) from None
        if not number >= 0:  # also NaN
            raise ValueError(f"store url {url!r}: {name} must be >= 0, got {value[-1]!r}")
        options[name] = number
    return SqliteStore(
        path,
        compact_interval=options.get("compact-interval", DEFAULT_COMPACT_INTERVAL),
        compact_retention=int(options.get("compact-retention", DEFAULT_COMPACT_RETENTION)),
    )


def _claim(path: str) -> int:
    """Take the database for this store alone. Revisions are counted and
    watches fed in this process, so a second writer (another process, or a
    second store on the same file here) would break both; refuse it. A lock
    file beside the database rather than a lock on it: closing any other
    descriptor of the database file would drop SQLite's own POSIX locks."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UnavailableError(
            f"sqlite store {path} is in use by another store (a running server?)"
        ) from None
    return fd


class SqliteStore:
    def __init__(
        self,
        path: str,
        *,
        compact_interval: float = DEFAULT_COMPACT_INTERVAL,
        compact_retention: int = DEFAULT_COMPACT_RETENTION,
    ) -> None:
        if not path:
            raise ValueError("sqlite store: empty database path")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise ValueError(f"sqlite store: directory {parent} does not exist")
        self.path = path
        self._lock_fd = _claim(path)
        self._broadcaster = Broadcaster(0)
        try:
            self._writer = Writer(path, self._broadcaster.publish)
        except sqlite3.Error as e:  # not a database, unreadable, disk full...
            os.close(self._lock_fd)
            raise UnavailableError(f"sqlite store {path}: cannot open the database: {e}") from e
        self._broadcaster.revision = self._writer.revision
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(READERS, thread_name_prefix="store-sqlite-read")
        self._compactor = Compactor(self._writer)
        self._compactor.start(compact_interval, compact_retention)
        self._leases = lease.Leases(self._writer, self._writer.submit_raw(lease.next_expiry).result())
        self._closed = False

    # -- plumbing ---------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = schema.connect(self.path, readonly=True)
            self._local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise UnavailableError("the sqlite store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._reader()))

    async def _write(self, op: write.OpFn) -> KeyValue:
        kv: KeyValue = await asyncio.wrap_future(self._writer.submit(op))
        return kv

    # -- the contract -----------------------------------------------------

    async def current_revision(self) -> int:
        return self._broadcaster.revision

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        validate.key(key)
        return await self._read(lambda c: read.get(c, key, revision))

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_key: str = ""
    ) -> ListResult:
        validate.prefix(prefix)
        validate.prefix(start_key)
        validate.limit(limit)
        return await self._read(lambda c: read.list_(c, prefix, revision, limit, start_key))

    async def count(self, prefix: str) -> int:
        validate.prefix(prefix)
        return await self._read(lambda c: read.count(c, prefix))

    async def create(self, key: str, value: bytes, lease: int = 0) -> KeyValue:
        validate.key(key)
        validate.value(key, value)
        data = bytes(value)
        return await self._write(lambda c, r: write.create(c, r, key, data, lease))

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        validate.key(key)
        validate.value(key, value)
        data = bytes(value)
        return await self._write(lambda c, r: write.update(c, r, key, data, expected_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        validate.key(key)
        return await self._write(lambda c, r: write.delete(c, r, key, expected_revision))

    def watch(self, prefix: str, start_revision: int = 0) -> AsyncGenerator[builtins.list[Event], None]:
        validate.prefix(prefix)
        return self._watch(prefix, start_revision)

    async def _watch(self, prefix: str, start: int) -> AsyncGenerator[builtins.list[Event], None]:
        if self._closed:
            raise UnavailableError("the sqlite store is closed")
        sub, published = self._broadcaster.subscribe(prefix)
        try:
            next_rev = published + 1
            if start > 0:
                async for batch in self._replay(prefix, start, published):
                    yield batch
                next_rev = max(start, published + 1)
            while True:
                events = await sub.next()
                if events is None:
                    # Fell behind and the buffer was dropped: catch up from the table.
                    self._broadcaster.unsubscribe(sub)
                    sub, published = self._broadcaster.subscribe(prefix)
                    async for batch in self._replay(prefix, next_rev, published):
                        yield batch
                    next_rev = max(next_rev, published + 1)
                    continue
                events = [e for e in events if e.kv.mod_revision >= next_rev]
                if events:
                    next_rev = events[-1].kv.mod_revision + 1
                    yield events
        finally:
            self._broadcaster.unsubscribe(sub)

    async def _replay(
        self, prefix: str, start: int, end: int
    ) -> AsyncGenerator[builtins.list[Event], None]:
        """History from the table, [start, end], in pages. Checks compaction
        even when the range is empty, so a watch from a compacted revision
        always fails."""
        while True:
            events = await self._read(
                partial(read.history, prefix=prefix, start=start, end=end, page=HISTORY_PAGE)
            )
            if events:
                yield events
            if len(events) < HISTORY_PAGE:
                return
            start = events[-1].kv.mod_revision + 1

    async def compact(self, revision: int) -> None:
        await asyncio.to_thread(self._compactor.compact, revision)

    async def grant_lease(self, ttl: int) -> int:
        if self._closed:
            raise UnavailableError("the sqlite store is closed")
        return await asyncio.to_thread(self._leases.grant, ttl)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._broadcaster.close()
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._leases.stop()
        self._compactor.stop()
        self._readers.shutdown(wait=True)
        with self._conns_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._writer.close()
        os.close(self._lock_fd)
