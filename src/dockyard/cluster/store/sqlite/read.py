"""The read verbs: get, list, count, and the history page a watch replays.

Each runs on a reader thread's own connection inside one read transaction,
so the revision it reports and the rows it returns come from one snapshot
(WAL readers never block the writer, nor it them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from .. import CompactedError, Event, FutureRevisionError, KeyValue, ListResult
from . import schema
from .schema import COLUMNS
from .write import Row


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _at(conn: sqlite3.Connection, revision: int) -> int:
    """The revision to read at: ``revision``, or the head for 0; checked."""
    current = schema.current_revision(conn)
    if revision <= 0:
        return current
    if revision > current:
        raise FutureRevisionError(revision, current)
    compacted = schema.compact_revision(conn)
    if revision < compacted:
        raise CompactedError(revision, compacted)
    return revision


_KV_COLUMNS = ", ".join("kv." + c.strip() for c in COLUMNS.split(","))


def _range(prefix: str) -> tuple[str, str]:
    """SQL condition and its upper bound for names under ``prefix``."""
    end = schema.prefix_end(prefix)
    if end is None:
        return "name >= :lo", ""
    return "name >= :lo AND name < :hi", end


def get(conn: sqlite3.Connection, key: str, revision: int) -> KeyValue | None:
    with snapshot(conn):
        rev = _at(conn, revision)
        r = conn.execute(
            f"SELECT {COLUMNS} FROM kv WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1",
            (key, rev),
        ).fetchone()
    if r is None:
        return None
    row = Row(*r)
    return None if row.deleted else row.kv()


def list_(
    conn: sqlite3.Connection, prefix: str, revision: int, limit: int, start_key: str
) -> ListResult:
    cond, hi = _range(prefix)
    params: dict[str, object] = {"lo": max(prefix, start_key), "hi": hi}
    with snapshot(conn):
        rev = params["rev"] = _at(conn, revision)
        if limit <= 0:
            # Everything: newest row at or below rev for each name (the
            # (name, id) index serves the GROUP BY), minus tombstones.
            rows = conn.execute(
                f"SELECT {_KV_COLUMNS} FROM kv"
                f" JOIN (SELECT MAX(id) AS id FROM kv WHERE {cond} AND id <= :rev GROUP BY name) m"
                " ON kv.id = m.id WHERE kv.deleted = 0 ORDER BY kv.name",
                params,
            ).fetchall()
            return ListResult([Row(*r).kv() for r in rows], rev, False)
        # A page: walk the index in name order and stop after limit + 1 live
        # keys, instead of grouping the whole prefix for every page (4 ms
        # against 60 ms for a page of 500 out of 100,000 keys).
        found: list[KeyValue] = []
        newest = conn.execute(
            f"SELECT MAX(id) FROM kv WHERE {cond} AND id <= :rev GROUP BY name ORDER BY name",
            params,
        )
        more = False
        try:
            for (row_id,) in newest:
                r = conn.execute(f"SELECT {COLUMNS} FROM kv WHERE id = ?", (row_id,)).fetchone()
                row = Row(*r)
                if row.deleted:
                    continue
                if len(found) == limit:
                    more = True
                    break
                found.append(row.kv())
        finally:
            newest.close()  # before COMMIT: no statement may be left running
        return ListResult(found, rev, more)


def count(conn: sqlite3.Connection, prefix: str) -> int:
    cond, hi = _range(prefix)
    with snapshot(conn):
        r = conn.execute(
            "SELECT COUNT(*) FROM kv"
            f" JOIN (SELECT MAX(id) AS id FROM kv WHERE {cond} GROUP BY name) m"
            " ON kv.id = m.id WHERE kv.deleted = 0",
            {"lo": prefix, "hi": hi},
        ).fetchone()
    return int(r[0])


def history(
    conn: sqlite3.Connection, prefix: str, start: int, end: int, page: int
) -> list[Event]:
    """Events for names under ``prefix`` with revisions in [start, end], at
    most ``page`` rows scanned' worth. CompactedError if compaction has
    passed ``start`` (its rows may be gone)."""
    cond, hi = _range(prefix)
    with snapshot(conn):
        compacted = schema.compact_revision(conn)
        if start < compacted:
            raise CompactedError(start, compacted)
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM kv WHERE id >= :start AND id <= :end"
            f" AND {cond} ORDER BY id LIMIT :page",
            {"start": start, "end": end, "lo": prefix, "hi": hi, "page": page},
        ).fetchall()
    return [Row(*r).event() for r in rows]
