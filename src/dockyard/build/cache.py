"""The build cache: one SQLite row per step result, with usage (BuildKit's cache records).

A record maps a step's cache key to the layer it produced: the layer blob
in the content store (``digest``, ``size``, ``media_type``) and its
``diff_id``. The blob carries a ``containerd.io/gc.root`` label owned by
the builder so the images' GC keeps it while the record lives; the layer's
snapshot is shared with images (named by chain ID) and is recreated from
the blob if GC took it. ``last_used``/``usage_count`` are updated on every
hit; ``prune`` drops records by age (``until``) and then least recently
used first until the total is under ``keep_storage``. ``DEFAULT_CAP`` bounds
the cache after every build (GC honours it).

``step_times`` remembers when each step key (layer or metadata-only) was
first built: a cached step's history ``created`` comes from there (or from
its layer record), so a fully cached rebuild makes a byte-identical config
and thus the same image ID, as Docker's legacy builder does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from dockyard.linux.sqlitedb import Database

DEFAULT_CAP = 2 << 30  # bytes of layers the cache keeps after a build
GC_ROOT_OWNER = "dockyard.build"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    digest TEXT NOT NULL,
    diff_id TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL,
    usage_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS step_times (
    key TEXT PRIMARY KEY,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Record:
    key: str
    description: str
    digest: str
    diff_id: str
    media_type: str
    size: int
    created: float
    last_used: float
    usage_count: int


class CacheStore:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # NORMAL: a crash that loses the last record only costs a cache miss.
        self._database = Database(path, schema=_SCHEMA, synchronous="NORMAL")
        self._lock = self._database.lock
        self._db = self._database.conn

    def close(self) -> None:
        self._database.close()

    def get(self, key: str) -> Record | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM records WHERE key=?", (key,)).fetchone()
        return Record(*row) if row else None

    def touch(self, key: str) -> None:
        with self._lock:
            self._db.execute("UPDATE records SET last_used=?, usage_count=usage_count+1 WHERE key=?",
                             (time.time(), key))

    def put(self, key: str, description: str, digest: str, diff_id: str, media_type: str, size: int) -> float:
        """Record a step's layer; returns its ``created`` time."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,0)",
                (key, description, digest, diff_id, media_type, size, now, now),
            )
            self._db.execute("INSERT OR REPLACE INTO step_times VALUES (?,?)", (key, now))
        return now

    def step_time(self, key: str, fresh: bool = False) -> float:
        """When the step ``key`` was first built (now, and remembered, if never
        or if ``fresh``: it was just built again, e.g. under ``--no-cache``)."""
        now = time.time()
        with self._lock:
            if not fresh:
                row = self._db.execute("SELECT created FROM step_times WHERE key=?", (key,)).fetchone()
                if row:
                    return float(row[0])
            self._db.execute("INSERT OR REPLACE INTO step_times VALUES (?,?)", (key, now))
        return now

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records WHERE key=?", (key,))
            self._db.execute("DELETE FROM step_times WHERE key=?", (key,))

    def all(self) -> list[Record]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM records ORDER BY last_used").fetchall()
        return [Record(*r) for r in rows]

    def select_prune(self, *, until: float | None = None, keep_storage: int | None = None,
                     all: bool = True) -> list[Record]:
        """Records to drop: older than ``until`` seconds (by last use), then the
        least recently used until the rest fits ``keep_storage`` bytes."""
        records = self.all()
        now = time.time()
        drop: list[Record] = []
        keep: list[Record] = []
        for r in records:
            if until is not None and now - r.last_used >= until:
                drop.append(r)
            elif until is None and keep_storage is None and all:
                drop.append(r)
            else:
                keep.append(r)
        if keep_storage is not None:
            total = sum(r.size for r in keep)
            for r in list(keep):  # oldest use first
                if total <= keep_storage:
                    break
                drop.append(r)
                keep.remove(r)
                total -= r.size
        return drop
