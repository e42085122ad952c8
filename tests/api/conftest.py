from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import Daemon, new_daemon


@pytest.fixture(scope="session")
def shared_daemon() -> Iterator[Daemon]:
    """One daemon per test session (per xdist worker); tests use unique names."""
    d = new_daemon()
    try:
        yield d
    finally:
        d.cleanup()
