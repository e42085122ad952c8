"""The single writer: one thread, one connection, group commit.

SQLite allows one writer at a time; rather than let callers fight over the
write lock, every change is a job on one queue served by one thread. The
thread takes whatever jobs are waiting (up to ``MAX_BATCH``), runs them in
one ``BEGIN IMMEDIATE`` transaction, COMMITs (one fsync for the lot), hands
the batch's events to ``on_commit`` and only then answers the callers. A
caller that has its answer therefore knows its write is on disk and already
visible to every watch.

A job is ``op(conn, next_revision) -> (result, events)``. It reads, checks
(compare-and-swap) and appends one row per event, with ids from
``next_revision`` on; when it raises a ``StoreError`` it has written nothing,
so the rest of the batch commits without it. Any other error rolls the whole
batch back and fails every job in it.

"Raw" jobs (checkpoint, vacuum) run alone, outside a transaction.

The event loop never waits on SQLite: callers await a future that this
thread resolves.
"""

from __future__ import annotations

import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from .. import Event, StoreError, UnavailableError
from . import schema

MAX_BATCH = 256

Op = Callable[[sqlite3.Connection, int], tuple[Any, list[Event]]]
RawOp = Callable[[sqlite3.Connection], Any]


class _Job:
    __slots__ = ("future", "op", "raw")

    def __init__(self, op: Op | RawOp, raw: bool) -> None:
        self.op = op
        self.raw = raw
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


class Writer:
    def __init__(self, path: str, on_commit: Callable[[list[Event], int], None]) -> None:
        self._conn = schema.connect(path)
        try:
            schema.create(self._conn)
            self.revision = schema.current_revision(self._conn)
        except BaseException:
            self._conn.close()
            raise
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="store-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Op) -> concurrent.futures.Future[Any]:
        return self._put(_Job(op, raw=False))

    def submit_raw(self, op: RawOp) -> concurrent.futures.Future[Any]:
        return self._put(_Job(op, raw=True))

    def _put(self, job: _Job) -> concurrent.futures.Future[Any]:
        if self._closed:
            raise UnavailableError("the sqlite store is closed")
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            if first.raw:
                self._run_raw(first)
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                if job.raw:
                    self._run_batch(batch)
                    batch = []
                    self._run_raw(job)
                    break
                batch.append(job)
            if batch:
                self._run_batch(batch)
        # Fail whatever arrived after close().
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.set_exception(UnavailableError("the sqlite store is closed"))

    def _run_raw(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            job.future.set_result(job.op(self._conn))  # type: ignore[call-arg]
        except BaseException as e:  # handed to the caller
            job.future.set_exception(e)

    def _run_batch(self, batch: list[_Job]) -> None:
        # A job whose caller was cancelled before it ran is dropped; once
        # running, it is applied whatever happens to the caller.
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not batch:
            return
        outcomes: list[tuple[bool, Any]] = []
        events: list[Event] = []
        revision = self.revision
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                try:
                    result, produced = job.op(conn, revision + 1)  # type: ignore[call-arg]
                except StoreError as e:
                    outcomes.append((False, e))
                    continue
                revision += len(produced)
                events.extend(produced)
                outcomes.append((True, result))
            conn.execute("COMMIT")
        except Exception as e:  # the disk failed us: nobody's write counts
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            error = UnavailableError(f"sqlite write failed: {e}")
            error.__cause__ = e
            for job in batch:
                job.future.set_exception(error)
            return
        self.revision = revision
        self._on_commit(events, revision)
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
