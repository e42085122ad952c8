"""Volume records and their users on disk: one SQLite database in WAL mode.

``<root>/volumes/metadata.db`` (Docker keeps a BoltDB of the same name)
holds three tables:

- ``volumes``: one row per volume (name, driver, created, labels, options,
  anonymous flag, and ``made_for``: the container an anonymous volume was
  made for by its create, "" for any other volume);
- ``refs``: (volume, ref) — a container that references the volume. While
  a row exists the volume is "in use": ``remove`` refuses and ``prune`` and
  ``dangling=true`` skip it;
- ``mounts``: (volume, ref) — a user that has the volume mounted right now.
  The local driver mounts on the first row and unmounts when the last goes.

Every change is one transaction, so a ``kill -9`` leaves the state before
or after it (a container's anonymous volume goes in with the container's
ref in one: there is never such a volume that nothing points at); after a
restart "in use" and "mounted by" are exactly what they were. The data
itself lives beside the database, in ``<root>/volumes/<name>/_data``, as
Docker lays it out.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from dockyard.linux.sqlitedb import Database

from .model import Volume

_SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    created_at TEXT NOT NULL,
    labels TEXT NOT NULL,
    options TEXT NOT NULL,
    scope TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    made_for TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS refs (
    volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,
    ref TEXT NOT NULL,
    PRIMARY KEY (volume, ref)
);
CREATE TABLE IF NOT EXISTS mounts (
    volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,
    ref TEXT NOT NULL,
    PRIMARY KEY (volume, ref)
);
"""


class Store:
    def __init__(self, directory: str) -> None:
        os.makedirs(directory, mode=0o701, exist_ok=True)
        self.path = os.path.join(directory, "metadata.db")
        self._database = Database(self.path, schema=_SCHEMA, foreign_keys=True)
        self._lock = self._database.lock
        self._db = self._database.conn
        self._migrate()

    def _migrate(self) -> None:
        """Databases made before ``made_for`` existed get the column (empty: such
        volumes are never taken for a cut-short create's)."""
        with self.tx() as db:
            cols = {r[1] for r in db.execute("PRAGMA table_info(volumes)")}
            if "made_for" not in cols:
                db.execute("ALTER TABLE volumes ADD COLUMN made_for TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self._database.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed on success, rolled back on error."""
        with self._database.transaction() as db:
            yield db

    # --- volumes -----------------------------------------------------------------
    @staticmethod
    def _row(row: tuple[str, str, str, str, str, str, int, str]) -> Volume:
        return Volume(Name=row[0], Driver=row[1], CreatedAt=row[2], Labels=json.loads(row[3]),
                      Options=json.loads(row[4]), Scope=row[5], Anonymous=bool(row[6]),
                      MadeFor=row[7])

    def get(self, name: str) -> Volume | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, driver, created_at, labels, options, scope, anonymous, made_for "
                "FROM volumes WHERE name = ?", (name,)).fetchone()
        return self._row(row) if row else None

    def all(self) -> list[Volume]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, driver, created_at, labels, options, scope, anonymous, made_for "
                "FROM volumes ORDER BY name").fetchall()
        return [self._row(r) for r in rows]

    @staticmethod
    def insert(db: sqlite3.Connection, v: Volume) -> None:
        db.execute("INSERT INTO volumes (name, driver, created_at, labels, options, scope, "
                   "anonymous, made_for) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (v.Name, v.Driver, v.CreatedAt, json.dumps(v.Labels), json.dumps(v.Options),
                    v.Scope, int(v.Anonymous), v.MadeFor))

    @staticmethod
    def delete(db: sqlite3.Connection, name: str) -> None:
        db.execute("DELETE FROM volumes WHERE name = ?", (name,))

    # --- users -------------------------------------------------------------------
    def refs(self, name: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT ref FROM refs WHERE volume = ? ORDER BY ref", (name,))]

    def mounts(self, name: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT ref FROM mounts WHERE volume = ? ORDER BY ref", (name,))]

    def users_all(self) -> set[str]:
        """Every id that references or mounts some volume."""
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT ref FROM refs UNION "
                                                   "SELECT ref FROM mounts")}

    def ref_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT volume, COUNT(*) FROM refs GROUP BY volume"))
