from __future__ import annotations

from collections.abc import Iterator

import pytest
from daemon_helpers import Daemon, new_daemon


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """A private daemon for one test (tests that kill or restart it)."""
    d = new_daemon()
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def cd() -> Iterator[Daemon]:
    """A private daemon with the C supervisor, shared by a module's tests."""
    d = new_daemon(["--bridge", "none", "--supervisor", "c"])
    try:
        yield d
    finally:
        d.cleanup()
