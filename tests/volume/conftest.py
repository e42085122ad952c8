"""Fixtures for the volume tests: a private ``VolumeService`` per test.

``svc`` roots the service in ``short_tmp`` (plugin sockets live there too,
under 107 bytes) with private, empty plugin directories. At teardown it
checks that the test left no mount under its root (the leak the issue
asks to watch for in mountinfo), then lets ``short_tmp`` clean up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.volume import VolumeService
from dockyard.volume.mountinfo import under


def mounts_under(path: Path | str) -> list[str]:
    return under(str(path))


@pytest.fixture
def plugin_dirs(short_tmp: Path) -> tuple[Path, Path]:
    sock, spec = short_tmp / "plugins", short_tmp / "specs"
    sock.mkdir()
    spec.mkdir()
    return sock, spec


@pytest.fixture
def svc(short_tmp: Path, plugin_dirs: tuple[Path, Path]) -> Iterator[VolumeService]:
    s = VolumeService(str(short_tmp / "root"), str(short_tmp / "run"),
                      plugin_socket_dirs=(str(plugin_dirs[0]),),
                      plugin_spec_dirs=(str(plugin_dirs[1]),), plugin_timeout=2.0)
    try:
        yield s
    finally:
        s.close()
    leaked = mounts_under(short_tmp / "root")
    assert not leaked, f"mounts leaked: {leaked}"
