"""extends: from the same file and another file, chains, loops."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.compose.errors import ExtendsError

HERE = Path(__file__).parent


def test_extends_another_file_resolves_its_paths_there(load) -> None:
    web = load("extends").config["services"]["web"]
    common = HERE / "common"
    assert web["image"] == "example/web"
    assert web["build"]["context"] == str(common / "ctx")
    assert web["volumes"][0]["source"] == str(common / "data")
    assert web["environment"] == {"FROM_BASE": "1", "FROM_BASE_ENV_FILE": "yes", "SHARED": "web"}
    assert web["ports"][0]["published"] == "8000"


def test_extends_chain_in_the_same_file(load) -> None:
    worker = load("extends").config["services"]["worker"]
    assert worker["image"] == "example/web"
    assert worker["command"] == ["work"]
    assert worker["environment"]["SHARED"] == "web"
    assert "ports" not in worker


def test_extends_loop_is_an_error(load) -> None:
    with pytest.raises(ExtendsError) as e:
        load("extends", "loop.yaml")
    assert "extends loop detected: a -> b -> c -> a" in str(e.value)
    assert "loop.yaml" in str(e.value) and e.value.exit_code == 15


def test_extends_missing_service(load) -> None:
    with pytest.raises(ExtendsError, match='service "nowhere" not found'):
        load("extends", "missing.yaml")
