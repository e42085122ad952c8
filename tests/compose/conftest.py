"""Helpers for the compose model tests: load a project from a feature folder,
with a private, explicit environment (never the test runner's)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.compose.loader import LoadedProject, ProjectOptions, load_project

HERE = Path(__file__).parent


@pytest.fixture
def load() -> Callable[..., LoadedProject]:
    def _load(folder: str | os.PathLike[str], *files: str, env: dict[str, str] | None = None,
              **kw: Any) -> LoadedProject:
        directory = HERE / folder if not os.path.isabs(folder) else Path(folder)
        options = ProjectOptions(
            config_files=[str(directory / f) for f in files],
            working_dir=str(directory), environ=dict(env or {}), **kw,
        )
        return load_project(options)

    return _load
