"""One SQLite database in WAL mode, shared by a process's threads.

The metadata stores of content, snapshots, images, volumes, the registry and
the build cache all keep their records this way: one connection per store
(sqlite3 objects are not thread-safe, so a lock serialises their use), WAL
so readers in other processes never block on a writer, and every change in
one ``BEGIN IMMEDIATE`` transaction — taking the write lock up front, so
two processes never both read and then deadlock upgrading. A ``kill -9``
leaves each transaction wholly applied or not at all.

``synchronous``: ``FULL`` makes every commit durable at once (records that
must survive power loss with the files they describe); ``NORMAL`` is
durable at each WAL checkpoint and never corrupts — a crash may forget the
very last change, never half of it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal


class Database:
    def __init__(
        self,
        path: str,
        *,
        schema: str = "",
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        foreign_keys: bool = False,
    ) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute("PRAGMA busy_timeout=30000")
        if foreign_keys:
            self.conn.execute("PRAGMA foreign_keys=ON")
        if schema:
            # Not executescript, which COMMITs on its own: the whole schema
            # goes in one transaction, so two processes opening a new store at
            # once never see half of it. (Schemas here have no triggers, whose
            # bodies would contain ';'.)
            with self.transaction() as c:
                for stmt in schema.split(";"):
                    if stmt.strip():
                        c.execute(stmt)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.conn.close()
