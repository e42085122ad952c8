"""Fixtures of the image tests: a private image service and small images.

- ``busybox_tar``: the busybox root filesystem as a tar (one per session).
- ``images``: an ``ImageService`` on a private root (overlay snapshotter).
- ``busybox``: ``images`` with ``busybox:latest`` imported (``CMD ["sh"]``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.images import ImageService


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("busybox-tar") / "rootfs.tar"
    subprocess.run(["tar", "-C", str(busybox_rootfs_template), "-cf", str(dest), "."], check=True)
    return dest


@pytest.fixture
def images(tmp_path: Path) -> Iterator[ImageService]:
    svc = ImageService.open(str(tmp_path / "root"))
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture
def busybox(images: ImageService, busybox_tar: Path) -> ImageService:
    images.import_image(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])
    return images
