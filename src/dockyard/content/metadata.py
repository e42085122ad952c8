"""The content store's metadata: blob records, labels, leases (SQLite, WAL).

The blob files are the truth about *what* exists; this database says what
is known *about* them: when they were committed, their labels, and which
leases hold them. Each change is one transaction, so labels are replaced
atomically and a commit's record and its lease entry land together.

A blob file without a row (a crash between the link into ``blobs/`` and
the insert) is still served: ``LocalStore`` creates the row on sight, with
no labels, and the next ``gc()`` collects it unless a lease or root holds
it. Rows without files are dropped the same way.

One connection per store object, shared by its threads under a lock;
other processes open their own (WAL lets readers run beside one writer,
``busy_timeout`` queues writers).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from dockyard.linux.sqlitedb import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    digest     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    digest TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (digest, key)
);
CREATE INDEX IF NOT EXISTS labels_key ON labels(key);
CREATE TABLE IF NOT EXISTS leases (
    id         TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL,
    labels     TEXT NOT NULL DEFAULT '{}'
);
-- type is containerd's resource type: "content" (a digest) or "ingests" (a ref).
CREATE TABLE IF NOT EXISTS lease_resources (
    lease TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    type  TEXT NOT NULL,
    id    TEXT NOT NULL,
    PRIMARY KEY (lease, type, id)
);
"""

BlobRow = tuple[str, int, float, float]
LeaseRow = tuple[str, float, float | None, dict[str, str]]


class Metadata:
    def __init__(self, path: str) -> None:
        # NORMAL: a crash may forget the very last label change, never half
        # of it (blobs themselves are fsynced files).
        self._database = Database(path, schema=_SCHEMA, synchronous="NORMAL", foreign_keys=True)
        self._lock = self._database.lock
        self._db = self._database.conn

    def close(self) -> None:
        self._database.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: take the write lock up front,
        so two processes never both read-then-upgrade and deadlock)."""
        with self._database.transaction() as db:
            yield db

    # --- blobs ----------------------------------------------------------------

    def get_blob(self, digest: str) -> tuple[BlobRow, dict[str, str]] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT digest, size, created_at, updated_at FROM blobs WHERE digest=?", (digest,)
            ).fetchone()
            if row is None:
                return None
            labels = dict(
                self._db.execute("SELECT key, value FROM labels WHERE digest=?", (digest,))
            )
        return row, labels

    def all_blobs(self) -> dict[str, tuple[BlobRow, dict[str, str]]]:
        with self._lock:
            rows = self._db.execute("SELECT digest, size, created_at, updated_at FROM blobs").fetchall()
            labels = self._db.execute("SELECT digest, key, value FROM labels").fetchall()
        out: dict[str, tuple[BlobRow, dict[str, str]]] = {r[0]: (r, {}) for r in rows}
        for digest, key, value in labels:
            if digest in out:
                out[digest][1][key] = value
        return out

    @staticmethod
    def insert_blob(
        c: sqlite3.Connection, digest: str, size: int, labels: Mapping[str, str] | None = None
    ) -> None:
        now = time.time()
        c.execute(
            "INSERT INTO blobs(digest, size, created_at, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT(digest) DO UPDATE SET updated_at=excluded.updated_at",
            (digest, size, now, now),
        )
        if labels:
            c.executemany(
                "INSERT INTO labels(digest, key, value) VALUES (?,?,?) "
                "ON CONFLICT(digest, key) DO UPDATE SET value=excluded.value",
                [(digest, k, v) for k, v in labels.items()],
            )

    def ensure_blob(self, digest: str, size: int) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO blobs(digest, size, created_at, updated_at) VALUES (?,?,?,?)",
                (digest, size, time.time(), time.time()),
            )

    def delete_blobs(self, digests: Iterable[str]) -> None:
        with self.tx() as c:
            c.executemany("DELETE FROM blobs WHERE digest=?", [(d,) for d in digests])

    def update_labels(
        self, digest: str, labels: Mapping[str, str | None], *, replace: bool
    ) -> bool:
        """False when the blob has no row."""
        with self.tx() as c:
            cur = c.execute("UPDATE blobs SET updated_at=? WHERE digest=?", (time.time(), digest))
            if cur.rowcount == 0:
                return False
            if replace:
                c.execute("DELETE FROM labels WHERE digest=?", (digest,))
            for k, v in labels.items():
                if v is None:
                    c.execute("DELETE FROM labels WHERE digest=? AND key=?", (digest, k))
                else:
                    c.execute(
                        "INSERT INTO labels(digest, key, value) VALUES (?,?,?) "
                        "ON CONFLICT(digest, key) DO UPDATE SET value=excluded.value",
                        (digest, k, v),
                    )
        return True

    # --- leases ---------------------------------------------------------------

    def create_lease(
        self, id: str, expires_at: float | None, labels: Mapping[str, str]
    ) -> LeaseRow | None:
        """None when the id is taken."""
        now = time.time()
        with self.tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO leases(id, created_at, expires_at, labels) VALUES (?,?,?,?)",
                (id, now, expires_at, json.dumps(dict(labels))),
            )
            if cur.rowcount == 0:
                return None
        return (id, now, expires_at, dict(labels))

    def delete_lease(self, id: str) -> bool:
        with self.tx() as c:
            return c.execute("DELETE FROM leases WHERE id=?", (id,)).rowcount > 0

    def leases(self) -> list[LeaseRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created_at, expires_at, labels FROM leases ORDER BY created_at"
            ).fetchall()
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def add_resource(self, lease: str, type: str, id: str) -> bool:
        """False when the lease does not exist."""
        with self.tx() as c:
            if c.execute("SELECT 1 FROM leases WHERE id=?", (lease,)).fetchone() is None:
                return False
            c.execute(
                "INSERT OR IGNORE INTO lease_resources(lease, type, id) VALUES (?,?,?)",
                (lease, type, id),
            )
        return True

    def remove_resource(self, lease: str, type: str, id: str) -> None:
        with self.tx() as c:
            c.execute(
                "DELETE FROM lease_resources WHERE lease=? AND type=? AND id=?", (lease, type, id)
            )

    def live_resources(self, now: float) -> tuple[set[str], set[str], list[str]]:
        """(content digests, ingest refs) held by live leases; expired leases
        are deleted in the same transaction and their ids returned."""
        with self.tx() as c:
            expired = [
                str(r[0])
                for r in c.execute(
                    "SELECT id FROM leases WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
                )
            ]
            c.executemany("DELETE FROM leases WHERE id=?", [(i,) for i in expired])
            content: set[str] = set()
            ingests: set[str] = set()
            for type_, rid in c.execute("SELECT type, id FROM lease_resources"):
                (content if type_ == "content" else ingests).add(rid)
        return content, ingests, expired
