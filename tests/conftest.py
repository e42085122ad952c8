"""Fixtures every test may use.

- ``busybox_rootfs_template``: one busybox root filesystem per test session
  (per xdist worker), built from Debian's busybox-static. Never write to it.
- ``busybox_rootfs``: a private copy for one test, safe to change.
- ``short_tmp``: a short private dir under /tmp (unix socket paths are
  limited to 107 bytes; pytest's tmp_path is often longer). Removed after.
- ``unique``: a short per-test prefix for kernel names (netns, links, cgroups)
  so tests, helpers and CI can run side by side on one machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.busybox import make_rootfs


@pytest.fixture(scope="session")
def busybox_rootfs_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("busybox-rootfs")
    make_rootfs(str(dest))
    return dest


@pytest.fixture
def busybox_rootfs(busybox_rootfs_template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", str(busybox_rootfs_template), str(dest)], check=True)
    return dest


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    d = tempfile.mkdtemp(prefix="dy-", dir="/tmp")
    try:
        yield Path(d)
    finally:
        # Unmount anything a failed test left under it before removing.
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(d + "/") or m == d), reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def unique() -> str:
    # Short: it prefixes host link names (15 bytes at most), and a network
    # service's links are <prefix><kind letter><random key>: each char spared
    # here is 4 more random bits there (two veths of one test once collided
    # with 3 hex chars left).
    return "dyt" + uuid.uuid4().hex[:6]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="dockyard's kernel tests run as root (CI does)")
        for item in items:
            if "needs_root" in item.keywords:
                item.add_marker(skip)
