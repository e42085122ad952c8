"""include: sub-projects with their own directory and env_file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.compose.errors import ConfigError

HERE = Path(__file__).parent


def test_included_project_brings_services_and_volumes(load) -> None:
    cfg = load("include").config
    assert sorted(cfg["services"]) == ["db", "web"]
    db = cfg["services"]["db"]
    # the including project's environment (.env says 15), with the include's env_file over it
    assert db["image"] == "postgres:16"
    assert db["labels"] == {"parent": "from-parent"}
    assert db["volumes"][0]["source"] == str(HERE / "sub" / "initdb")  # its own directory
    assert cfg["volumes"] == {"dbdata": {"name": "inc_dbdata"}}
    assert cfg["services"]["web"]["depends_on"]["db"]["condition"] == "service_started"


def test_include_conflict(load) -> None:
    with pytest.raises(ConfigError, match="services.db conflicts"):
        load("include", "conflict.yaml")


def test_include_cycle(load) -> None:
    with pytest.raises(ConfigError, match="include cycle detected"):
        load("include", "cycle.yaml")
