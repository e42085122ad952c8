"""Compaction: forget history, give the space back, keep the WAL small.

``compact(R)`` first records R as the compact revision (reads and watches
from before R now fail with CompactedError), then deletes, in windows of
``WINDOW`` rows in id order, every row below R that no read at R or later
can see:

- a row superseded by a newer row of the same name at or below R;
- a tombstone below R (the key is gone; its older rows went before it,
  since windows go in id order, so no older value ever shows through).

Rows at or above R all stay, so a watch from R still sees every event.
Each window is one short job on the writer thread, interleaved with normal
writes, so compacting a large history never stalls writers for long.
Afterwards ``PRAGMA incremental_vacuum`` returns the freed pages to the file
system and ``wal_checkpoint(TRUNCATE)`` empties the WAL file.

The compactor thread does this every ``interval`` seconds, keeping the last
``retention`` revisions (kine keeps 1000; kube-apiserver asks every 5 min).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from functools import partial

from .. import CompactedError, Event, FutureRevisionError
from . import schema
from .writer import Writer

log = logging.getLogger(__name__)

WINDOW = 1000


def _mark(conn: sqlite3.Connection, rev: int, revision: int) -> tuple[int, list[Event]]:
    current = schema.current_revision(conn)
    if revision > current:
        raise FutureRevisionError(revision, current)
    compacted = schema.compact_revision(conn)
    if revision <= compacted:
        raise CompactedError(revision, compacted)
    conn.execute(
        "INSERT INTO meta (name, value) VALUES ('compact_revision', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (revision,),
    )
    return compacted, []


def _window(conn: sqlite3.Connection, rev: int, lo: int, revision: int) -> tuple[int, list[Event]]:
    """Delete dead rows with ids in (lo, hi]; return hi (revision: done)."""
    r = conn.execute(
        "SELECT id FROM kv WHERE id > ? AND id < ? ORDER BY id LIMIT 1 OFFSET ?",
        (lo, revision, WINDOW - 1),
    ).fetchone()
    hi = int(r[0]) if r else revision
    conn.execute(
        "DELETE FROM kv WHERE id > :lo AND id <= :hi AND id < :rev AND (deleted = 1 OR EXISTS"
        " (SELECT 1 FROM kv AS n WHERE n.name = kv.name AND n.id > kv.id AND n.id <= :rev))",
        {"lo": lo, "hi": hi, "rev": revision},
    )
    return hi, []


def _vacuum(conn: sqlite3.Connection) -> None:
    # Not conn.execute(): Python's sqlite3 sees a statement without result
    # columns, steps it once, and incremental_vacuum frees ONE page per step.
    # executescript steps every statement to the end.
    conn.executescript("PRAGMA incremental_vacuum;")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


class Compactor:
    """Runs compactions, one at a time, from any thread (blocking)."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def compact(self, revision: int) -> None:
        with self._lock:
            self._writer.submit(partial(_mark, revision=revision)).result()
            lo = 0
            while lo < revision:
                lo = self._writer.submit(partial(_window, lo=lo, revision=revision)).result()
            self._writer.submit_raw(_vacuum).result()

    def start(self, interval: float, retention: int) -> None:
        if interval <= 0:
            return
        self._thread = threading.Thread(
            target=self._loop, args=(interval, retention), name="store-sqlite-compactor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self, interval: float, retention: int) -> None:
        last = 0
        while not self._stop.wait(interval):
            target = self._writer.revision - retention
            if target <= last:
                continue
            try:
                self.compact(target)
                last = target
            except CompactedError as e:  # someone compacted further meanwhile
                last = e.compact_revision
            except Exception:  # keep compacting next time
                log.exception("automatic compaction to revision %d failed", target)
