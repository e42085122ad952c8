"""Fixtures of the registry client's tests: a store with busybox, fresh stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.images import ImageService


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Callable[[str], ImageService]]:
    """Image services under private roots, closed after the test."""
    opened: list[ImageService] = []

    def make(name: str) -> ImageService:
        svc = ImageService.open(str(tmp_path / name), snapshotter="native")
        opened.append(svc)
        return svc

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def busybox_store(stores: Callable[[str], ImageService], busybox_rootfs_template: Path) -> ImageService:
    """A store holding ``busybox:latest`` imported from Debian's busybox-static."""
    svc = stores("src")
    svc.import_image(str(busybox_rootfs_template), "busybox:latest", changes=['CMD ["sh"]'])
    return svc
