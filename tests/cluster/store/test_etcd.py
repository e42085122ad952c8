"""What only the etcd backend has to prove: a three-member cluster on
loopback keeps taking writes and keeps an open watch going when one member
(the leader, the one the client talks to) dies; unreachable members give a
clear UnavailableError; its URL. (The shared contract: test_conformance.py.)"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import urllib.request
from pathlib import Path

import pytest

from dockyard.cluster.store import (
    CompactedError,
    ConflictError,
    Event,
    UnavailableError,
    open_store,
)
from dockyard.cluster.store.etcd import EtcdStore, launch


def leader_index(members: list[launch.Member]) -> int:
    ids = []
    leader = ""
    for m in members:
        req = urllib.request.Request(
            f"http://{m.address}/v3/maintenance/status", data=b"{}", method="POST"
        )
        with urllib.request.urlopen(req, timeout=2) as r:
            status = json.load(r)
        ids.append(status["header"]["member_id"])
        leader = status["leader"]
    return ids.index(leader)


@pytest.mark.slow
async def test_cluster_survives_losing_the_leader(short_tmp: Path, prefix: str) -> None:
    with launch.cluster(3, str(short_tmp / "etcd")) as members:
        # Talk to the leader first, so its death costs an election AND a failover.
        lead = leader_index(members)
        order = [members[lead]] + [m for i, m in enumerate(members) if i != lead]
        store = open_store("etcd://" + ",".join(m.address for m in order))
        assert isinstance(store, EtcdStore)
        try:
            start = await store.current_revision() + 1
            events: list[Event] = []

            async def watch() -> None:
                async for batch in store.watch(prefix, start):
                    events.extend(batch)
                    if len(events) >= 40:
                        return

            watcher = asyncio.create_task(watch())
            for i in range(20):
                await store.create(f"{prefix}{i:02}", b"before")
            async with asyncio.timeout(10):
                while len(events) < 20:
                    await asyncio.sleep(0.02)
            order[0].stop(signal.SIGKILL)
            for i in range(20, 40):
                kv = await store.create(f"{prefix}{i:02}", b"after")
                assert kv.mod_revision > 0
            await asyncio.wait_for(watcher, 15)
            assert [e.kv.key for e in events] == [f"{prefix}{i:02}" for i in range(40)]
            revisions = [e.kv.mod_revision for e in events]
            assert revisions == sorted(set(revisions)), "no gap, no repeat"
            assert await store.count(prefix) == 40
            listed = await store.list(prefix)
            assert [kv.value for kv in listed.items] == [b"before"] * 20 + [b"after"] * 20
        finally:
            await store.close()


async def test_unreachable_members_fail_clearly() -> None:
    ports = [launch.free_port(), launch.free_port()]
    store = EtcdStore([f"http://127.0.0.1:{p}" for p in ports], deadline=0.5)
    try:
        with pytest.raises(UnavailableError, match=f"127.0.0.1:{ports[1]}"):
            await store.get("/registry/x")
        with pytest.raises(UnavailableError):
            await store.create("/registry/x", b"1")
        with pytest.raises(UnavailableError):
            async for _ in store.watch("/registry/"):
                pass
    finally:
        await store.close()


async def test_keys_and_values_are_base64_on_the_wire(etcd_member: launch.Member, prefix: str) -> None:
    """What etcdctl (another client) sees is what we wrote: raw bytes, any key."""
    store = open_store(f"etcd://{etcd_member.address}")
    try:
        key = prefix + "ünïcode key/with spaces"
        value = bytes(range(256))
        await store.create(key, value)
        req = urllib.request.Request(
            f"http://{etcd_member.address}/v3/kv/range",
            data=json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=2) as r:
            kvs = json.load(r)["kvs"]
        assert base64.b64decode(kvs[0]["value"]) == value
        assert (await store.get(key)) is not None
        assert (await store.list(prefix)).items[0].value == value
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url, message",
    [
        ("etcd://", "expected etcd://host:port"),
        ("etcd://127.0.0.1", "is not host:port"),
        ("etcd://127.0.0.1:2379,127.0.0.1:x", "member '127.0.0.1:x' is not host:port"),
        ("etcd://127.0.0.1:99999", "is not host:port"),
        ("etcd://127.0.0.1:2379/prefix", "expected etcd://host:port"),
        ("etcd://127.0.0.1:2379?compact-every=1", "unknown option 'compact-every'"),
        ("etcd://127.0.0.1:2379?compact-interval=-1", "compact-interval must be a number >= 0"),
        ("etcd://127.0.0.1:2379?compact-interval=nan", "compact-interval must be a number >= 0"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


class CuttingProxy:
    """A TCP proxy in front of a member that forwards each request but, as
    the answer starts to come back, drops it and closes the connection: the
    write is applied, and the client cannot know."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.cut = 0

    async def __aenter__(self) -> CuttingProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def forward() -> None:
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()

        pump = asyncio.create_task(forward())
        try:
            if await up_reader.read(1):  # the answer begins: the write happened
                self.cut += 1
        finally:
            pump.cancel()
            writer.transport.abort()
            up_writer.close()


async def test_write_with_unknown_outcome_is_resolved(
    etcd_member: launch.Member, prefix: str
) -> None:
    """Each verb's answer is lost after etcd applied it; the store tries
    again on the next member and recognises its own write."""
    real = f"http://{etcd_member.address}"
    async with CuttingProxy(etcd_member.client_port) as proxy:
        via = f"http://127.0.0.1:{proxy.port}"

        async def fresh() -> EtcdStore:
            return EtcdStore([via, real], deadline=5)

        store = await fresh()
        kv = await store.create(prefix + "a", b"1")
        await store.close()
        assert proxy.cut == 1
        check = EtcdStore([real])
        assert await check.get(prefix + "a") == kv

        store = await fresh()
        kv2 = await store.update(prefix + "a", b"2", kv.mod_revision)
        await store.close()
        assert proxy.cut == 2
        assert kv2.value == b"2" and kv2.mod_revision > kv.mod_revision
        assert await check.get(prefix + "a") == kv2

        store = await fresh()
        gone = await store.delete(prefix + "a", kv2.mod_revision)
        await store.close()
        assert proxy.cut >= 3
        assert gone.value == b"2" and gone.mod_revision > kv2.mod_revision
        assert await check.get(prefix + "a") is None

        # A real conflict behind an unknown outcome is still a conflict.
        other = await check.create(prefix + "b", b"theirs")
        await check.update(prefix + "b", b"theirs too", other.mod_revision)
        store = await fresh()
        with pytest.raises(ConflictError):
            await store.update(prefix + "b", b"mine", other.mod_revision)
        await store.close()
        await check.close()


@pytest.mark.slow
async def test_watch_on_a_member_without_leader_does_not_hang(short_tmp: Path, prefix: str) -> None:
    """With two of three members gone, the survivor has no leader: its
    watches are cancelled ("require leader", as clientv3 asks) and the store
    says so, rather than a watch waiting forever on a member cut off from
    the cluster's writes."""
    with launch.cluster(3, str(short_tmp / "etcd")) as members:
        store = EtcdStore([f"http://{members[0].address}"], deadline=2)
        try:
            start = (await store.create(prefix + "a", b"1")).mod_revision
            seen: list[Event] = []

            async def watch() -> None:
                async for batch in store.watch(prefix, start):
                    seen.extend(batch)

            watcher = asyncio.create_task(watch())
            async with asyncio.timeout(5):
                while not seen:
                    await asyncio.sleep(0.02)
            members[1].stop(signal.SIGKILL)
            members[2].stop(signal.SIGKILL)
            # etcd cancels the stream ("no leader"), or, as it stops serving
            # watches without a leader, ends it.
            with pytest.raises(UnavailableError, match="no leader|ended the watch stream"):
                await asyncio.wait_for(watcher, 20)
            with pytest.raises(UnavailableError):
                await store.create(prefix + "b", b"1")
        finally:
            await store.close()


async def test_automatic_compaction(short_tmp: Path, prefix: str) -> None:
    """Every interval, compact to the revision seen one interval before
    (kube-apiserver's loop): old history goes, the last interval's stays."""
    with launch.cluster(1, str(short_tmp / "etcd")) as members:
        store = open_store(f"etcd://{members[0].address}?compact-interval=0.3")
        try:
            first = await store.create(prefix + "a", b"0")
            kv = first
            for i in range(5):
                kv = await store.update(prefix + "a", str(i).encode(), kv.mod_revision)
            async with asyncio.timeout(10):
                while True:
                    try:
                        await store.get(prefix + "a", revision=first.mod_revision)
                    except CompactedError as e:
                        assert first.mod_revision < e.compact_revision <= kv.mod_revision
                        break
                    await asyncio.sleep(0.1)
            assert await store.get(prefix + "a") == kv
        finally:
            await store.close()
