from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import Daemon, new_daemon


@pytest.fixture(scope="session")
def cli_daemon() -> Iterator[Daemon]:
    d = new_daemon()
    try:
        yield d
    finally:
        d.cleanup()
