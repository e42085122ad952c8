"""Fixtures for the store tests.

- ``etcd_member``: one private etcd (Debian's etcd-server) per test module,
  on free loopback ports; started only by tests that use etcd.
- ``store``: the conformance fixture, parametrized "sqlite" / "etcd": a fresh
  sqlite file per test, or a fresh client of the module's etcd.
- ``prefix``: a key prefix of this test's own, so tests sharing one etcd
  never see each other's keys.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dockyard.cluster.store import Store, open_store
from dockyard.cluster.store.etcd import launch


@pytest.fixture(scope="module")
def etcd_member() -> Iterator[launch.Member]:
    with launch.cluster(1, tempfile.mkdtemp(prefix="dy-etcd-", dir="/tmp")) as members:
        yield members[0]


@pytest.fixture(params=["sqlite", "etcd"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        # No automatic compaction: tests compact by hand.
        s: Store = open_store(f"sqlite://{tmp_path}/state.db?compact-interval=0")
    else:
        member: launch.Member = request.getfixturevalue("etcd_member")
        s = open_store(f"etcd://{member.address}?compact-interval=0")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def prefix(unique: str) -> str:
    return f"/registry/{unique}/"
