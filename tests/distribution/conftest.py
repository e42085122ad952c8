"""Fixtures for the registry tests: a real ``dockyard registry`` process on a
free loopback port, and a small busybox OCI image layout to push."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _images import rootfs_layer, write_layout
from _regtools import Running, start_registry


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def make(config: dict[str, object] | None = None, args: tuple[str, ...] = (),
             name: str = "reg") -> Running:
        r = start_registry(tmp_path / f"{name}{len(started)}", config, args)
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One auth-less registry shared by a module's tests (each uses its own repositories)."""
    r = start_registry(tmp_path_factory.mktemp("registry"))
    yield r
    r.stop()


@pytest.fixture(scope="session")
def busybox_layer(busybox_rootfs_template: Path) -> bytes:
    return rootfs_layer(busybox_rootfs_template)


@pytest.fixture
def busybox_layout(busybox_layer: bytes, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An OCI layout (tag ``latest``) of busybox: one gzip layer."""
    dest = tmp_path / "layout"
    return dest, write_layout(dest, [busybox_layer])
