"""One suite, every backend: the store contract as the API server relies on it.

Runs against sqlite and a real etcd (``store`` fixture in conftest.py).
Revisions are compared relative to each other, never as absolute numbers:
an empty etcd starts at revision 1, sqlite at 0.
"""

from __future__ import annotations

import asyncio

import pytest

from dockyard.cluster.store import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    LeaseNotFoundError,
    Store,
    UnavailableError,
    ValueTooLargeError,
)


async def collect(store: Store, prefix: str, start: int, n: int, timeout: float = 5) -> list[Event]:
    """The first ``n`` events of a watch (fails if they do not come)."""
    events: list[Event] = []
    watch = store.watch(prefix, start)
    try:
        async with asyncio.timeout(timeout):
            async for batch in watch:
                events.extend(batch)
                if len(events) >= n:
                    break
    finally:
        await watch.aclose()
    return events


async def test_create_get(store: Store, prefix: str) -> None:
    before = await store.current_revision()
    kv = await store.create(prefix + "a", b"one")
    assert kv.key == prefix + "a" and kv.value == b"one"
    assert kv.create_revision == kv.mod_revision > before
    assert await store.current_revision() == kv.mod_revision
    assert await store.get(prefix + "a") == kv
    assert await store.get(prefix + "missing") is None


async def test_create_existing_fails_and_changes_nothing(store: Store, prefix: str) -> None:
    kv = await store.create(prefix + "a", b"one")
    with pytest.raises(KeyExistsError):
        await store.create(prefix + "a", b"two")
    assert await store.get(prefix + "a") == kv
    assert await store.current_revision() == kv.mod_revision


async def test_update_compare_and_swap(store: Store, prefix: str) -> None:
    kv = await store.create(prefix + "a", b"one")
    kv2 = await store.update(prefix + "a", b"two", kv.mod_revision)
    assert kv2.value == b"two"
    assert kv2.create_revision == kv.create_revision
    assert kv2.mod_revision > kv.mod_revision
    with pytest.raises(ConflictError) as e:
        await store.update(prefix + "a", b"stale", kv.mod_revision)
    assert e.value.key == prefix + "a"
    assert e.value.current == kv2
    assert await store.get(prefix + "a") == kv2
    # 0: unconditional
    kv3 = await store.update(prefix + "a", b"three", 0)
    assert kv3.value == b"three" and kv3.mod_revision > kv2.mod_revision
    with pytest.raises(KeyNotFoundError):
        await store.update(prefix + "missing", b"x", 0)
    with pytest.raises(KeyNotFoundError):
        await store.update(prefix + "missing", b"x", kv.mod_revision)
    assert await store.get(prefix + "missing") is None


async def test_delete(store: Store, prefix: str) -> None:
    kv = await store.create(prefix + "a", b"one")
    with pytest.raises(ConflictError):
        await store.delete(prefix + "a", kv.mod_revision + 1000)
    assert await store.get(prefix + "a") == kv
    gone = await store.delete(prefix + "a", kv.mod_revision)
    assert gone.key == prefix + "a" and gone.value == b"one"
    assert gone.create_revision == kv.create_revision
    assert gone.mod_revision == await store.current_revision() > kv.mod_revision
    assert await store.get(prefix + "a") is None
    with pytest.raises(KeyNotFoundError):
        await store.delete(prefix + "a")
    # Re-created: a new life with a new create_revision.
    again = await store.create(prefix + "a", b"two")
    assert again.create_revision > gone.mod_revision
    gone2 = await store.delete(prefix + "a")
    assert gone2.value == b"two"


async def test_concurrent_creates_one_wins(store: Store, prefix: str) -> None:
    results = await asyncio.gather(
        *(store.create(prefix + "race", str(i).encode()) for i in range(8)), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, KeyExistsError) for r in results if r not in winners)
    assert await store.get(prefix + "race") == winners[0]


async def test_concurrent_updates_no_lost_update(store: Store, prefix: str) -> None:
    await store.create(prefix + "n", b"0")

    async def increment() -> None:
        while True:
            kv = await store.get(prefix + "n")
            assert kv is not None
            try:
                await store.update(prefix + "n", str(int(kv.value) + 1).encode(), kv.mod_revision)
                return
            except ConflictError:
                continue

    await asyncio.gather(*(increment() for _ in range(10)))
    kv = await store.get(prefix + "n")
    assert kv is not None and kv.value == b"10"


async def test_list_prefix_order_limit_continue(store: Store, prefix: str) -> None:
    names = ["b", "a", "c/x", "c/y", "d"]
    for n in names:
        await store.create(prefix + n, n.encode())
    # A sibling whose name extends the prefix's last segment must not match.
    await store.create(prefix.rstrip("/") + "x/z", b"sibling")
    everything = await store.list(prefix)
    assert [kv.key for kv in everything.items] == [prefix + n for n in sorted(names)]
    assert everything.more is False
    assert everything.revision == await store.current_revision()
    assert [kv.key for kv in (await store.list(prefix + "c/")).items] == [
        prefix + "c/x",
        prefix + "c/y",
    ]
    # Pages of two, continuing after the last key seen.
    seen: list[str] = []
    start = ""
    pages = 0
    while True:
        page = await store.list(prefix, limit=2, start_key=start, revision=everything.revision)
        seen += [kv.key for kv in page.items]
        pages += 1
        if not page.more:
            break
        assert len(page.items) == 2
        start = page.items[-1].key + "\0"
    assert seen == [kv.key for kv in everything.items]
    assert pages == 3
    exact = await store.list(prefix, limit=5)
    assert len(exact.items) == 5 and exact.more is False
    assert await store.count(prefix) == 5
    assert await store.count(prefix + "c/") == 2
    assert await store.count(prefix + "none/") == 0


async def test_list_and_get_at_a_revision(store: Store, prefix: str) -> None:
    a = await store.create(prefix + "a", b"a1")
    b = await store.create(prefix + "b", b"b1")
    at = await store.current_revision()
    await store.update(prefix + "a", b"a2", a.mod_revision)
    await store.delete(prefix + "b", b.mod_revision)
    await store.create(prefix + "c", b"c1")
    old = await store.list(prefix, revision=at)
    assert [(kv.key, kv.value) for kv in old.items] == [(prefix + "a", b"a1"), (prefix + "b", b"b1")]
    assert old.revision == at
    now = await store.list(prefix)
    assert [(kv.key, kv.value) for kv in now.items] == [(prefix + "a", b"a2"), (prefix + "c", b"c1")]
    assert await store.get(prefix + "b", revision=at) == b
    assert await store.get(prefix + "b") is None
    assert await store.get(prefix + "c", revision=at) is None
    with pytest.raises(FutureRevisionError):
        await store.get(prefix + "a", revision=await store.current_revision() + 100)


async def test_watch_replay_then_live(store: Store, prefix: str) -> None:
    a = await store.create(prefix + "a", b"1")
    await store.update(prefix + "a", b"2", a.mod_revision)
    await store.create(prefix + "b", b"1")
    await store.create("/registry/elsewhere-" + prefix.split("/")[2], b"not mine")

    async def write_live() -> None:
        await asyncio.sleep(0.2)
        await store.create(prefix + "c", b"1")
        await store.delete(prefix + "a")

    writer = asyncio.create_task(write_live())
    events = await collect(store, prefix, a.mod_revision, 5)
    await writer
    assert [(e.type, e.kv.key, e.kv.value) for e in events] == [
        ("PUT", prefix + "a", b"1"),
        ("PUT", prefix + "a", b"2"),
        ("PUT", prefix + "b", b"1"),
        ("PUT", prefix + "c", b"1"),
        ("DELETE", prefix + "a", b"2"),
    ]
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == sorted(set(revisions)), "in order, no duplicates"
    assert revisions[0] == a.mod_revision


async def test_watch_from_now_and_from_the_middle(store: Store, prefix: str) -> None:
    first = await store.create(prefix + "old", b"x")
    watch = store.watch(prefix)  # from now: "old" is not news
    task = asyncio.ensure_future(watch.__anext__())
    await asyncio.sleep(0.2)  # let the watch be established (etcd: a round trip)
    new = await store.create(prefix + "new", b"y")
    batch = await asyncio.wait_for(task, 5)
    await watch.aclose()
    assert [e.kv.key for e in batch] == [prefix + "new"]
    assert batch[0].kv == new
    # From a revision in between: only what came after.
    events = await collect(store, prefix, first.mod_revision + 1, 1)
    assert [e.kv.key for e in events] == [prefix + "new"]


async def test_watch_prev_kv(store: Store, prefix: str) -> None:
    a = await store.create(prefix + "a", b"1")
    a2 = await store.update(prefix + "a", b"2", a.mod_revision)
    gone = await store.delete(prefix + "a")
    events = await collect(store, prefix, a.mod_revision, 3)
    created, updated, deleted = events
    assert created.prev_kv is None and created.kv == a
    assert updated.kv == a2 and updated.prev_kv == a
    assert deleted.type == "DELETE"
    assert deleted.kv.mod_revision == gone.mod_revision
    assert deleted.kv.value == b"2"  # the last value, as the contract says
    assert deleted.prev_kv == a2


async def test_watch_many_events_in_order(store: Store, prefix: str) -> None:
    start = await store.current_revision() + 1
    await asyncio.gather(*(store.create(f"{prefix}k{i:03}", b"v") for i in range(50)))
    events = await collect(store, prefix, start, 50)
    assert len(events) == 50
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == sorted(set(revisions))
    assert {e.kv.key for e in events} == {f"{prefix}k{i:03}" for i in range(50)}


async def test_compaction(store: Store, prefix: str) -> None:
    a = await store.create(prefix + "a", b"1")
    a2 = await store.update(prefix + "a", b"2", a.mod_revision)
    b = await store.create(prefix + "b", b"1")
    await store.delete(prefix + "b")
    c = await store.create(prefix + "c", b"1")
    await store.compact(c.mod_revision)
    # Current values are kept; history before the compaction is gone.
    assert [kv.value for kv in (await store.list(prefix)).items] == [b"2", b"1"]
    assert await store.get(prefix + "a") == a2
    with pytest.raises(CompactedError) as e:
        await store.get(prefix + "a", revision=a.mod_revision)
    assert e.value.compact_revision == c.mod_revision
    with pytest.raises(CompactedError):
        await store.list(prefix, revision=b.mod_revision)
    with pytest.raises(CompactedError) as e:
        await collect(store, prefix, a.mod_revision, 1)
    assert e.value.revision == a.mod_revision
    assert e.value.compact_revision == c.mod_revision
    # At the compact revision itself everything is still readable and watchable.
    at = await store.list(prefix, revision=c.mod_revision)
    assert [kv.key for kv in at.items] == [prefix + "a", prefix + "c"]
    assert await store.get(prefix + "b", revision=c.mod_revision) is None
    events = await collect(store, prefix, c.mod_revision, 1)
    assert events[0].kv == c
    # Compacting again to the same revision (or back) is an error; ahead too.
    with pytest.raises(CompactedError):
        await store.compact(c.mod_revision)
    with pytest.raises(FutureRevisionError):
        await store.compact(await store.current_revision() + 10)
    # Writes carry on after a compaction.
    a3 = await store.update(prefix + "a", b"3", a2.mod_revision)
    assert a3.create_revision == a.create_revision


async def test_value_too_large(store: Store, prefix: str) -> None:
    with pytest.raises(ValueTooLargeError):
        await store.create(prefix + "big", b"x" * (MAX_VALUE_BYTES + 1))
    assert await store.get(prefix + "big") is None
    kv = await store.create(prefix + "big", b"x" * (1024 * 1024))
    assert (await store.get(prefix + "big")) == kv
    # A watch carries it too (etcd: one 1.4 MiB line of base64 JSON).
    events = await collect(store, prefix, kv.mod_revision, 1)
    assert events[0].kv == kv
    with pytest.raises(ValueTooLargeError):
        await store.update(prefix + "big", b"y" * (MAX_VALUE_BYTES + 1), kv.mod_revision)
    assert (await store.get(prefix + "big")) == kv


async def test_bad_input(store: Store, prefix: str) -> None:
    with pytest.raises(ValueError, match="key"):
        await store.create("", b"x")
    with pytest.raises(ValueError, match="limit"):
        await store.list(prefix, limit=-1)
    with pytest.raises(ValueError, match="bytes"):
        await store.create(prefix + "s", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        await store.list(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        store.watch(b"/registry/")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        await store.grant_lease(-5)
    assert await store.count(prefix) == 0


async def test_lease_expiry_deletes_its_keys(store: Store, prefix: str) -> None:
    lease = await store.grant_lease(1)
    assert lease > 0
    start = await store.current_revision() + 1
    kept = await store.create(prefix + "kept", b"no lease")
    leased = await store.create(prefix + "event", b"short-lived", lease=lease)
    assert leased.lease == lease
    updated = await store.update(prefix + "event", b"still short-lived", leased.mod_revision)
    assert updated.lease == lease, "an update keeps the key's lease"
    # etcd's shortest TTL and its 500 ms expiry sweep: gone within a few seconds.
    events = await collect(store, prefix, start, 4, timeout=8)
    assert [(e.type, e.kv.key) for e in events] == [
        ("PUT", prefix + "kept"),
        ("PUT", prefix + "event"),
        ("PUT", prefix + "event"),
        ("DELETE", prefix + "event"),
    ]
    assert events[-1].kv.value == b"still short-lived"
    assert await store.get(prefix + "event") is None
    assert await store.get(prefix + "kept") == kept
    with pytest.raises(LeaseNotFoundError):
        await store.create(prefix + "late", b"x", lease=lease)
    with pytest.raises(LeaseNotFoundError):
        await store.create(prefix + "never", b"x", lease=12345)
    with pytest.raises(ValueError, match="ttl"):
        await store.grant_lease(0)


async def test_close_ends_open_watches(store: Store, prefix: str) -> None:
    watch = store.watch(prefix)
    task = asyncio.ensure_future(watch.__anext__())
    await asyncio.sleep(0.2)
    await store.close()
    with pytest.raises(UnavailableError):
        await asyncio.wait_for(task, 5)
    with pytest.raises(UnavailableError):
        await store.get(prefix + "a")
