"""The write verbs as writer-thread jobs: create, update, delete.

Each job runs inside the writer's open transaction (``writer.py``): it reads
the key's newest row, checks the caller's expectation, and appends one row
with id ``rev`` - or raises a ``StoreError`` having written nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import NamedTuple

from .. import (
    ConflictError,
    Event,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    LeaseNotFoundError,
)
from .schema import COLUMNS


class Row(NamedTuple):
    id: int
    name: str
    created: int
    deleted: int
    create_revision: int
    prev_revision: int
    lease: int
    value: bytes
    old_value: bytes | None

    def kv(self) -> KeyValue:
        return KeyValue(self.name, self.value, self.create_revision, self.id, self.lease)

    def event(self) -> Event:
        prev = None
        if self.old_value is not None:
            prev = KeyValue(
                self.name, self.old_value, self.create_revision, self.prev_revision, self.lease
            )
        return Event("DELETE" if self.deleted else "PUT", self.kv(), prev)


# A write job as the writer thread runs it: (connection, next revision).
OpFn = Callable[[sqlite3.Connection, int], tuple[KeyValue, list[Event]]]

_INSERT = f"INSERT INTO kv ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


def newest(conn: sqlite3.Connection, key: str) -> Row | None:
    r = conn.execute(
        f"SELECT {COLUMNS} FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1", (key,)
    ).fetchone()
    return Row(*r) if r else None


def _append(conn: sqlite3.Connection, row: Row) -> tuple[KeyValue, list[Event]]:
    conn.execute(_INSERT, row)
    return row.kv(), [row.event()]


def create(
    conn: sqlite3.Connection, rev: int, key: str, value: bytes, lease: int
) -> tuple[KeyValue, list[Event]]:
    if lease and conn.execute("SELECT 1 FROM leases WHERE id = ?", (lease,)).fetchone() is None:
        raise LeaseNotFoundError(f"lease {lease} not found (granted leases expire with their TTL)")
    last = newest(conn, key)
    if last is not None and not last.deleted:
        raise KeyExistsError(f"key {key} already exists (mod_revision {last.id})")
    prev = last.id if last is not None else 0
    return _append(conn, Row(rev, key, 1, 0, rev, prev, lease, value, None))


def _live(conn: sqlite3.Connection, key: str, expected_revision: int) -> Row:
    last = newest(conn, key)
    if last is None or last.deleted:
        raise KeyNotFoundError(f"key {key} not found")
    if expected_revision and last.id != expected_revision:
        raise ConflictError(key, last.kv())
    return last


def update(
    conn: sqlite3.Connection, rev: int, key: str, value: bytes, expected_revision: int
) -> tuple[KeyValue, list[Event]]:
    last = _live(conn, key, expected_revision)
    # The key keeps its lease, as etcd's put with ignore_lease does.
    row = Row(rev, key, 0, 0, last.create_revision, last.id, last.lease, value, last.value)
    return _append(conn, row)


def delete(
    conn: sqlite3.Connection, rev: int, key: str, expected_revision: int
) -> tuple[KeyValue, list[Event]]:
    last = _live(conn, key, expected_revision)
    row = Row(rev, key, 0, 1, last.create_revision, last.id, last.lease, last.value, last.value)
    return _append(conn, row)
