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
