"""What only the sqlite backend has to prove: durability under kill -9,
bounded growth under compaction, the automatic compactor, reopening, slow
watchers, and its URL. (The shared contract is in test_conformance.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockyard.cluster.store import CompactedError, UnavailableError, open_store
from dockyard.cluster.store.sqlite import SqliteStore, broadcast

HERE = Path(__file__).parent


def rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0])


def disk_size(path: Path) -> int:
    wal = Path(str(path) + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "burst_writer.py"), str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: list[tuple[str, int]] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while len(acked) < 1500 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        key, revision = line.split()
        acked.append((key, int(revision)))
    proc.send_signal(signal.SIGKILL)  # mid-burst: writes are in flight
    proc.wait()
    for line in proc.stdout:  # acknowledged before the kill, read late
        if line.endswith("\n"):
            key, revision = line.split()
            acked.append((key, int(revision)))
    assert len(acked) >= 1500, "the writer did not get going"
    store = open_store(f"sqlite://{db}?compact-interval=0")
    try:
        for key, rev in acked:
            kv = await store.get(key)
            assert kv is not None, f"acknowledged write {key} at revision {rev} was lost"
            assert kv.mod_revision == rev and kv.value == key.encode() * 20
        assert await store.current_revision() >= max(r for _, r in acked)
        # The store takes writes after the crash, at the next revision.
        head = await store.current_revision()
        kv = await store.create("/registry/after-crash", b"x")
        assert kv.mod_revision == head + 1
    finally:
        await store.close()


async def test_compaction_bounds_the_file(tmp_path: Path) -> None:
    """A steady update load with compaction on: the database and its WAL
    stop growing. The same load without compaction grows all along."""
    value = os.urandom(4096)

    async def load(store: SqliteStore, rounds: int, compact: bool) -> list[int]:
        sizes = []
        for r in range(rounds):
            for _ in range(5):
                await asyncio.gather(
                    *(store.update(f"/registry/cm/{k}", value + bytes([r]), 0) for k in range(40))
                )
            if compact:
                await store.compact(await store.current_revision() - 40)
            sizes.append(disk_size(Path(store.path)))
        return sizes

    async def run(name: str, compact: bool) -> tuple[list[int], int]:
        store = SqliteStore(str(tmp_path / name), compact_interval=0)
        try:
            for k in range(40):
                await store.create(f"/registry/cm/{k}", value)
            sizes = await load(store, 12, compact)
            wal = Path(store.path + "-wal")
            return sizes, wal.stat().st_size if wal.exists() else 0
        finally:
            await store.close()

    compacted, wal_after = await run("compacted.db", True)
    grown, _ = await run("grown.db", False)
    # Each round writes 200 x 4 KiB = 800 KiB of new values.
    assert max(compacted[4:]) <= compacted[3] * 1.25 + 256 * 1024, compacted
    assert grown[-1] > grown[3] + 4 * 800 * 1024, grown
    assert compacted[-1] < grown[-1] / 3
    assert wal_after == 0, "the WAL is truncated after a compaction"
    assert rows(tmp_path / "compacted.db") <= 40 + 200 + 40


async def test_automatic_compactor(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = open_store(f"sqlite://{db}?compact-interval=0.2&compact-retention=10")
    try:
        first = await store.create("/registry/x", b"0")
        kv = first
        for i in range(100):
            kv = await store.update("/registry/x", str(i).encode(), kv.mod_revision)
        deadline = time.monotonic() + 5
        while rows(db) > 12 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert rows(db) <= 12  # the newest 10 revisions and the row before them
        with pytest.raises(CompactedError):
            await store.get("/registry/x", revision=first.mod_revision)
        assert await store.get("/registry/x") == kv
        assert (await store.get("/registry/x", revision=kv.mod_revision - 9)) is not None
    finally:
        await store.close()


async def test_reopen_keeps_data_revision_and_compaction(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db?compact-interval=0"
    store = open_store(url)
    a = await store.create("/registry/a", b"1")
    a2 = await store.update("/registry/a", b"2", a.mod_revision)
    gone = await store.delete("/registry/a")
    await store.compact(a2.mod_revision)
    await store.close()
    store = open_store(url)
    try:
        assert await store.current_revision() == gone.mod_revision
        assert await store.get("/registry/a") is None
        with pytest.raises(CompactedError):
            await store.get("/registry/a", revision=a.mod_revision)
        b = await store.create("/registry/a", b"3")
        assert b.mod_revision == gone.mod_revision + 1
    finally:
        await store.close()


async def test_revision_never_reused_after_compacting_the_head(tmp_path: Path) -> None:
    """Compaction may delete the newest row (a tombstone); AUTOINCREMENT
    keeps its revision taken, so revisions only ever go up."""
    url = f"sqlite://{tmp_path}/state.db?compact-interval=0"
    store = open_store(url)
    await store.create("/registry/a", b"1")
    gone = await store.delete("/registry/a")
    await store.create("/registry/b", b"1")
    head = await store.current_revision()
    await store.compact(head)
    await store.close()
    store = open_store(url)
    try:
        assert await store.current_revision() == head
        assert (await store.create("/registry/c", b"1")).mod_revision == head + 1 > gone.mod_revision
    finally:
        await store.close()


async def test_slow_watcher_catches_up_from_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broadcast, "MAX_BUFFERED", 10)
    store = open_store(f"sqlite://{tmp_path}/state.db?compact-interval=0")
    try:
        start = await store.current_revision() + 1
        watch = store.watch("/registry/", start)
        first = asyncio.ensure_future(watch.__anext__())
        await store.create("/registry/k000", b"v")
        events = list(await asyncio.wait_for(first, 5))
        # Now write far more than the watcher may buffer while it does not read.
        for i in range(1, 100):
            await store.create(f"/registry/k{i:03}", b"v")
        async with asyncio.timeout(5):
            while len(events) < 100:
                events.extend(await watch.__anext__())
        await watch.aclose()
        assert [e.kv.key for e in events] == [f"/registry/k{i:03}" for i in range(100)]
        assert [e.kv.mod_revision for e in events] == list(range(start, start + 100))
    finally:
        await store.close()


async def test_event_loop_is_not_blocked_by_writes(tmp_path: Path) -> None:
    """SQLite work happens on threads: a ticker on the loop keeps ticking
    through a burst of fsynced writes."""
    store = open_store(f"sqlite://{tmp_path}/state.db?compact-interval=0")
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - t - 0.001)

    tick = asyncio.create_task(ticker())
    try:
        await asyncio.gather(
            *(store.create(f"/registry/t/{i}", os.urandom(20_000)) for i in range(500))
        )
        await store.compact(await store.current_revision())
    finally:
        stop.set()
        await tick
        await store.close()
    assert len(lags) > 5
    lags.sort()
    # Generous for a shared 2-core machine: a blocked loop would show
    # stalls of the whole burst's length.
    assert lags[len(lags) // 2] < 0.05, lags[-5:]


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://x/y", "unknown backend 'mysql'"),
        ("sqlite://host/x.db", "expected sqlite:///absolute/path.db"),
        ("sqlite:///tmp/dy-store-never-created.db?compact-every=3", "unknown option 'compact-every'"),
        ("sqlite:///tmp/dy-store-never-created.db?compact-interval=soon", "compact-interval must be a number"),
        ("sqlite:///tmp/dy-store-never-created.db?compact-retention=-1", "compact-retention must be >= 0"),
        ("sqlite:///nonexistent-dir-dy/x.db", "does not exist"),
        ("", "expected sqlite:///path or etcd://host:port"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)
    assert not os.path.exists("/tmp/dy-store-never-created.db")


async def test_plain_path(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "plain.db"))
    try:
        assert isinstance(store, SqliteStore)
        await store.create("/registry/a", b"1")
    finally:
        await store.close()
    assert (tmp_path / "plain.db").exists()


async def test_one_store_per_database(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db?compact-interval=0"
    store = open_store(url)
    try:
        with pytest.raises(UnavailableError, match="in use"):
            open_store(url)
        # Another process too.
        probe = subprocess.run(
            [sys.executable, "-c", f"from dockyard.cluster.store import open_store; open_store({url!r})"],
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0 and "in use" in probe.stderr
        await store.create("/registry/a", b"1")
    finally:
        await store.close()
    store = open_store(url)  # free again after close
    await store.close()


async def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "state.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UnavailableError, match="cannot open the database"):
        open_store(f"sqlite://{junk}")
    assert junk.read_bytes() == b"this is not sqlite" * 100, "left as it was"
    junk.unlink()
    store = open_store(f"sqlite://{junk}?compact-interval=0")  # the lock was released
    await store.close()


async def test_compaction_gives_space_back(tmp_path: Path) -> None:
    """Incremental vacuum: after the data is deleted and compacted away the
    file shrinks (freed pages go back to the file system, not just to
    SQLite's free list), and the WAL is emptied."""
    store = SqliteStore(str(tmp_path / "state.db"), compact_interval=0)
    try:
        value = os.urandom(8192)
        await asyncio.gather(*(store.create(f"/registry/big/{i}", value) for i in range(300)))
        await store.compact(await store.current_revision())  # checkpoint: all in the db file
        full = disk_size(tmp_path / "state.db")
        assert full > 300 * 8192
        for i in range(300):
            await store.delete(f"/registry/big/{i}")
        await store.compact(await store.current_revision())
        empty = disk_size(tmp_path / "state.db")
        assert empty < full / 10, (full, empty)
        assert rows(tmp_path / "state.db") <= 1  # at most the newest tombstone
    finally:
        await store.close()
