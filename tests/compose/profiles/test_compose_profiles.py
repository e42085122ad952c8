"""Profiles: --profile, COMPOSE_PROFILES, targeted services."""

from __future__ import annotations

import pytest

from dockyard.compose.errors import ConfigError, ProjectValidationError


def test_services_without_profiles_are_always_on(load) -> None:
    lp = load("profiles")
    assert list(lp.config["services"]) == ["web"]
    assert lp.all_profiles == ["debug", "extra", "tools"]


def test_profile_flag_and_variable(load) -> None:
    assert list(load("profiles", profiles=["debug"]).config["services"]) == ["debug", "tools", "web"]
    assert list(load("profiles", env={"COMPOSE_PROFILES": "tools"}).config["services"]) == ["tools", "web"]
    assert len(load("profiles", profiles=["*"]).config["services"]) == 4


def test_targeted_service_enables_its_profile_and_dependencies(load) -> None:
    lp = load("profiles", services=["needs-debug"])
    assert list(lp.config["services"]) == ["debug", "needs-debug", "web"]
    with pytest.raises(ConfigError, match="no such service: nope"):
        load("profiles", services=["nope"])


def test_dependency_on_a_disabled_service_is_an_error(load) -> None:
    with pytest.raises(ProjectValidationError, match='depends on undefined service "debug"'):
        load("profiles", profiles=["extra"])
