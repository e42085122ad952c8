"""Fixtures of the builder tests.

- ``store``: one image store per test session (per xdist worker) with
  ``busybox:latest`` imported once from Debian's busybox-static.
- ``builder``: a ``Builder`` on that store with its own state dir (so its
  cache records are private to the test).
- ``build(folder, **options)``: build ``tests/build/<folder>`` (its
  Dockerfile and context beside it) or any directory; returns the result.
- ``ctx``: a private scratch context directory for tests that write files.

Each feature has a folder under ``tests/build/`` holding its Dockerfile and
context; tests that must change files copy the folder to ``ctx`` first
(``_buildtools.copy_folder``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _buildtools import HERE, unmount_under

from dockyard.build import Builder, BuildOptions, BuildResult
from dockyard.busybox import make_rootfs
from dockyard.images import ImageService


@pytest.fixture(scope="session")
def store() -> Iterator[ImageService]:
    root = tempfile.mkdtemp(prefix="dyb-", dir="/tmp")
    svc = ImageService.open(root)
    try:
        # busybox:latest as ``images.busybox_image`` makes it, imported from a
        # tar (once per session; the path ``docker import`` takes)
        rootfs = os.path.join(root, "busybox-rootfs")
        make_rootfs(rootfs)
        tar = os.path.join(root, "busybox.tar")
        subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
        svc.import_image(tar, "busybox:latest", changes=['CMD ["sh"]'])
        shutil.rmtree(rootfs)
        os.unlink(tar)
        yield svc
    finally:
        svc.close()
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def builder(store: ImageService, unique: str) -> Iterator[Builder]:
    root = os.path.join(os.path.dirname(store.content.root), f"build-{unique}")  # type: ignore[attr-defined]
    b = Builder(store, root)
    try:
        yield b
    finally:
        b.close()
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    d = tmp_path / "ctx"
    d.mkdir()
    return d


@pytest.fixture
def build(builder: Builder) -> Callable[..., BuildResult]:
    def run(folder: str | Path, **kw: Any) -> BuildResult:
        path = Path(folder) if os.path.isabs(str(folder)) else HERE / folder
        return builder.build(BuildOptions(context=str(path), **kw))

    return run
