"""What both snapshotters share: metadata in SQLite and crash-safe directories.

Layout under a snapshotter's root::

    metadata.db              keys, kinds, parents, labels, usage (SQLite, WAL)
    snapshots/<id>/fs        the snapshot's tree (overlay: its layer / upper dir)
    snapshots/<id>/work      overlay's work dir (active snapshots only)
    snapshots/new-<pid>-*    a snapshot being made (not yet in the database)
    snapshots/rm-<id>-*      a snapshot being removed (no longer in the database)

``<id>`` is a number the database hands out (AUTOINCREMENT: never reused),
which keeps overlay's lowerdir option short (see ``mount.py``).

Crash safety: a snapshot's directory is built under ``new-…`` first (for
native that is the long copy), then one transaction inserts its row and
renames the directory to ``<id>``. Removal is the mirror image: in one
transaction the row goes and the directory is renamed to ``rm-…``; the
``rmtree`` happens after. So after a ``kill -9`` anywhere, the database is
the truth and ``cleanup()`` (run at every open) deletes every directory the
database does not own: a half-made snapshot is never listed, a half-removed
one is gone.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from dockyard.linux.procs import pid_alive
from dockyard.linux.sqlitedb import Database
from dockyard.snapshot import Info, Kind, Mount, Usage
from dockyard.snapshot.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    parent  TEXT NOT NULL DEFAULT '',
    labels  TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    size    INTEGER NOT NULL DEFAULT -1,
    inodes  INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent);
"""

MAX_KEY = 4096


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    key: str
    kind: Kind
    parent: str
    labels: dict[str, str]
    created: float
    updated: float
    size: int
    inodes: int

    def info(self) -> Info:
        return Info(kind=self.kind, name=self.key, parent=self.parent,
                    labels=dict(self.labels), created=self.created, updated=self.updated)


def _row(r: tuple[object, ...]) -> Row:
    return Row(
        id=int(r[0]),  # type: ignore[call-overload]
        key=str(r[1]),
        kind=Kind(str(r[2])),
        parent=str(r[3]),
        labels=json.loads(str(r[4])),
        created=float(r[5]),  # type: ignore[arg-type]
        updated=float(r[6]),  # type: ignore[arg-type]
        size=int(r[7]),  # type: ignore[call-overload]
        inodes=int(r[8]),  # type: ignore[call-overload]
    )


_COLUMNS = "id, key, kind, parent, labels, created, updated, size, inodes"


def check_key(key: object, what: str = "key") -> str:
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"snapshot {what} must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY or "\x00" in key:
        raise InvalidArgumentError(
            f"snapshot {what} {key[:64]!r}… is invalid (at most {MAX_KEY} characters, no NUL)"
        )
    return key


def check_labels(labels: Mapping[str, str | None] | None) -> None:
    for k, v in (labels or {}).items():
        if not isinstance(k, str) or not k:
            raise InvalidArgumentError(f"label keys must be non-empty strings, got {k!r}")
        if v is not None and not isinstance(v, str):
            raise InvalidArgumentError(f"label {k!r} must have a string value, got {v!r}")


def disk_usage(path: str) -> Usage:
    """Apparent size and inode count of a tree, each inode counted once (a
    hard-linked file is not counted twice). Symlinks are not followed."""
    seen: set[tuple[int, int]] = set()
    size = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in (*dirnames, *filenames):
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            if not stat.S_ISDIR(st.st_mode):
                size += st.st_size
    return Usage(size=size, inodes=len(seen))




class Base:
    """Metadata and directory bookkeeping; subclasses say how a snapshot's
    tree is made (``_populate``) and shown (``_mounts``)."""

    name = ""

    def __init__(self, root: str) -> None:
        if "," in root or ":" in root:
            # Both are separators in overlay's mount options.
            raise InvalidArgumentError(f"snapshotter root {root!r} may not contain ',' or ':'")
        self.root = os.path.abspath(root)
        self.dir = os.path.join(self.root, "snapshots")
        os.makedirs(self.dir, mode=0o711, exist_ok=True)
        self._database = Database(os.path.join(self.root, "metadata.db"), schema=_SCHEMA)
        self._lock = self._database.lock
        self._db = self._database.conn
        self.cleanup()

    # --- database ------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._database.transaction() as db:
            yield db

    def _get(self, key: str) -> Row:
        check_key(key)
        with self._lock:
            r = self._db.execute(
                f"SELECT {_COLUMNS} FROM snapshots WHERE key = ?", (key,)
            ).fetchone()
        if r is None:
            raise NotFoundError(f"snapshot {key!r} does not exist")
        return _row(r)

    def _chain(self, parent: str) -> list[Row]:
        """``parent`` and its ancestors, nearest first."""
        chain: list[Row] = []
        while parent:
            row = self._get(parent)
            chain.append(row)
            parent = row.parent
        return chain

    def path(self, row: Row) -> str:
        return os.path.join(self.dir, str(row.id))

    def fs(self, row: Row) -> str:
        return os.path.join(self.dir, str(row.id), "fs")

    # --- the contract ---------------------------------------------------------

    def stat(self, key: str) -> Info:
        return self._get(key).info()

    def update(self, key: str, labels: Mapping[str, str | None]) -> Info:
        check_labels(labels)
        with self._tx() as db:
            row = self._get(key)
            new = dict(row.labels)
            for k, v in labels.items():
                if v is None:
                    new.pop(k, None)
                else:
                    new[k] = v
            db.execute(
                "UPDATE snapshots SET labels = ?, updated = ? WHERE id = ?",
                (json.dumps(new, sort_keys=True), time.time(), row.id),
            )
        return self._get(key).info()

    def usage(self, key: str) -> Usage:
        row = self._get(key)
        if row.kind == Kind.COMMITTED and row.size >= 0:
            return Usage(size=row.size, inodes=row.inodes)
        return disk_usage(self.fs(row))

    def mounts(self, key: str) -> list[Mount]:
        row = self._get(key)
        if row.kind == Kind.COMMITTED:
            raise FailedPreconditionError(
                f"snapshot {key!r} is committed; mount a view or an active snapshot of it"
            )
        return self._mounts(row, self._chain(row.parent))

    def parent_mounts(self, key: str) -> list[Mount]:
        row = self._get(key)
        chain = self._chain(row.parent)
        if not chain:
            return []
        return self._lower_mounts(chain)

    def prepare(
        self, key: str, parent: str = "", labels: Mapping[str, str] | None = None
    ) -> list[Mount]:
        return self._create(Kind.ACTIVE, key, parent, labels)

    def view(
        self, key: str, parent: str = "", labels: Mapping[str, str] | None = None
    ) -> list[Mount]:
        return self._create(Kind.VIEW, key, parent, labels)

    def _check_new(self, key: str, parent: str) -> list[Row]:
        with self._lock:
            exists = self._db.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone()
        if exists:
            raise AlreadyExistsError(f"snapshot {key!r} already exists")
        chain = self._chain(parent) if parent else []
        if chain and chain[0].kind != Kind.COMMITTED:
            raise FailedPreconditionError(
                f"parent {parent!r} is {chain[0].kind.value.lower()}, not committed"
            )
        return chain

    def _create(
        self, kind: Kind, key: str, parent: str, labels: Mapping[str, str] | None
    ) -> list[Mount]:
        check_key(key)
        if parent:
            check_key(parent, "parent")
        check_labels(labels)
        chain = self._check_new(key, parent)
        staging = os.path.join(self.dir, f"new-{os.getpid()}-{secrets.token_hex(6)}")
        os.mkdir(staging, 0o700)
        try:
            self._populate(staging, kind, chain)
            now = time.time()
            with self._tx() as db:
                chain = self._check_new(key, parent)  # again, under the lock
                cur = db.execute(
                    "INSERT INTO snapshots (key, kind, parent, labels, created, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (key, kind.value, parent, json.dumps(dict(labels or {}), sort_keys=True),
                     now, now),
                )
                new_id = cur.lastrowid
                assert new_id is not None
                os.rename(staging, os.path.join(self.dir, str(new_id)))
            row = self._get(key)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self._mounts(row, chain)

    def commit(self, name: str, key: str, labels: Mapping[str, str] | None = None) -> None:
        check_key(name, "name")
        check_labels(labels)
        row = self._get(key)
        if row.kind != Kind.ACTIVE:
            raise FailedPreconditionError(
                f"snapshot {key!r} is {row.kind.value.lower()}; only active snapshots commit"
            )
        # Usage is computed before the transaction (it walks the tree) and
        # stored with the row: a committed layer never changes again.
        use = disk_usage(self.fs(row))
        with self._tx() as db:
            if name != key and db.execute(
                "SELECT 1 FROM snapshots WHERE key = ?", (name,)
            ).fetchone():
                raise AlreadyExistsError(f"snapshot {name!r} already exists")
            current = self._get(key)
            if current.id != row.id or current.kind != Kind.ACTIVE:
                raise FailedPreconditionError(f"snapshot {key!r} changed during commit")
            new_labels = {**row.labels, **(labels or {})}
            db.execute(
                "UPDATE snapshots SET key = ?, kind = ?, labels = ?, updated = ?, size = ?, "
                "inodes = ? WHERE id = ?",
                (name, Kind.COMMITTED.value, json.dumps(new_labels, sort_keys=True),
                 time.time(), use.size, use.inodes, row.id),
            )
        self._committed(row)

    def remove(self, key: str) -> None:
        row = self._get(key)
        graveyard = os.path.join(self.dir, f"rm-{row.id}-{secrets.token_hex(6)}")
        with self._tx() as db:
            child = db.execute(
                "SELECT key FROM snapshots WHERE parent = ? LIMIT 1", (key,)
            ).fetchone()
            if child is not None:
                raise FailedPreconditionError(
                    f"cannot remove snapshot {key!r}: snapshot {child[0]!r} is based on it"
                )
            db.execute("DELETE FROM snapshots WHERE id = ?", (row.id,))
            try:
                os.rename(self.path(row), graveyard)
            except FileNotFoundError:
                graveyard = ""
        if graveyard:
            shutil.rmtree(graveyard, ignore_errors=True)

    def walk(self, *, parent: str | None = None, kind: Kind | None = None) -> list[Info]:
        query = f"SELECT {_COLUMNS} FROM snapshots"
        where: list[str] = []
        args: list[str] = []
        if parent is not None:
            where.append("parent = ?")
            args.append(parent)
        if kind is not None:
            where.append("kind = ?")
            args.append(Kind(kind).value)
        if where:
            query += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY key", args).fetchall()
        return [_row(r).info() for r in rows]

    def cleanup(self) -> int:
        # Under the write lock: another process sharing this root renames a
        # new snapshot into place inside its own transaction, so while we
        # hold the lock every "<id>" directory we see is either committed
        # (its row visible) or a dead process's leftover.
        removed = 0
        with self._tx() as db:
            ids = {int(r[0]) for r in db.execute("SELECT id FROM snapshots")}
            for name in os.listdir(self.dir):
                if name.isdigit() and int(name) in ids:
                    continue
                if name.startswith("new-"):
                    pid = name.split("-")[1]
                    if pid.isdigit() and pid_alive(int(pid)):
                        continue  # a live process is building it right now
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)
                removed += 1
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- for subclasses -----------------------------------------------------------

    def _populate(self, staging: str, kind: Kind, chain: list[Row]) -> None:
        raise NotImplementedError

    def _mounts(self, row: Row, chain: list[Row]) -> list[Mount]:
        raise NotImplementedError

    def _lower_mounts(self, chain: list[Row]) -> list[Mount]:
        """Read-only mounts showing committed ``chain[0]`` (with its parents)."""
        raise NotImplementedError

    def _committed(self, row: Row) -> None:
        """After commit: drop what only an active snapshot needs."""
