"""Leases, etcd's way: a lease has a TTL; keys created with it are deleted
when it expires. Kubernetes puts Events on leases so they expire by
themselves (``--event-ttl``, one hour by default).

A lease is a row in ``leases`` with its expiry as wall-clock time, so it
survives a restart (etcd instead restarts a lease's TTL when a new leader
takes over; either way a lease never ends early). The reaper thread wakes
every ``TICK`` seconds, and only when the earliest expiry has passed does it
hand the writer one job that deletes the keys of every expired lease - one
tombstone each, with its own revision and DELETE event (etcd revokes a
lease's keys in one revision; one row per revision is this table's rule) -
and forgets the leases.
"""

from __future__ import annotations

import logging
import math
import secrets
import sqlite3
import threading
import time
from functools import partial

from .. import Event, validate
from . import write
from .writer import Writer

log = logging.getLogger(__name__)

TICK = 0.5  # etcd checks for expired leases every 500 ms too
BATCH = 100  # leases expired per writer job


def _grant(
    conn: sqlite3.Connection, rev: int, lease: int, ttl: int, now: float
) -> tuple[int, list[Event]]:
    conn.execute(
        "INSERT INTO leases (id, ttl, expires_at) VALUES (?, ?, ?)", (lease, ttl, now + ttl)
    )
    return lease, []


def _expire(conn: sqlite3.Connection, rev: int, now: float) -> tuple[float, list[Event]]:
    """Delete the keys of leases expired by ``now``; the next expiry (inf: none)."""
    leases = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM leases WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
            (now, BATCH),
        )
    ]
    events: list[Event] = []
    for lease in leases:
        names = [r[0] for r in conn.execute("SELECT DISTINCT name FROM kv WHERE lease = ?", (lease,))]
        for name in sorted(names):
            last = write.newest(conn, name)
            if last is None or last.deleted or last.lease != lease:
                continue  # deleted already, or re-created without this lease
            _, produced = write.delete(conn, rev + len(events), name, 0)
            events.extend(produced)
        conn.execute("DELETE FROM leases WHERE id = ?", (lease,))
    nxt = conn.execute("SELECT MIN(expires_at) FROM leases").fetchone()[0]
    return (math.inf if nxt is None else float(nxt)), events


class Leases:
    def __init__(self, writer: Writer, next_expiry: float) -> None:
        self._writer = writer
        self._next = next_expiry
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="store-sqlite-leases", daemon=True)
        self._thread.start()

    def grant(self, ttl: int) -> int:
        """Blocking: the new lease's id."""
        validate.ttl(ttl)
        lease = secrets.randbits(62) + 1  # positive int64, as etcd's ids
        now = time.time()
        result: int = self._writer.submit(partial(_grant, lease=lease, ttl=ttl, now=now)).result()
        self._next = min(self._next, now + ttl)
        return result

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            if time.time() < self._next:
                continue
            try:
                self._next = self._writer.submit(partial(_expire, now=time.time())).result()
            except Exception:  # keep expiring on the next tick
                log.exception("expiring leases failed")


def next_expiry(conn: sqlite3.Connection) -> float:
    nxt = conn.execute("SELECT MIN(expires_at) FROM leases").fetchone()[0]
    return math.inf if nxt is None else float(nxt)
