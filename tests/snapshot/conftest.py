"""Fixtures for the snapshot tests (helpers live in ``snapshot_helpers``).

- ``sn``: a fresh snapshotter, parametrized over every built-in
  (``BUILTINS``), so the conformance suite runs against each.
- ``mounted``: mount a snapshot's mounts on a private dir for the test's
  duration; at teardown everything is unmounted and /proc/self/mountinfo
  is checked for leaks under the test's directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from snapshot_helpers import MountFn, mountinfo_under

from dockyard.snapshot import BUILTINS, Mount, Snapshotter, mount_all, new_snapshotter, unmount_all


@pytest.fixture(params=sorted(BUILTINS))
def sn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Snapshotter]:
    s = new_snapshotter(request.param, str(tmp_path / "root"))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[MountFn]:
    targets: list[str] = []

    def do(mounts: Sequence[Mount]) -> str:
        target = str(tmp_path / f"mnt{len(targets)}")
        os.mkdir(target)
        mount_all(mounts, target)
        targets.append(target)
        return target

    yield do
    for t in reversed(targets):
        unmount_all(t)
    assert mountinfo_under(str(tmp_path)) == [], "mounts leaked"


