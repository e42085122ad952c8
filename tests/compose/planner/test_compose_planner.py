"""The up-planner: order, config hashes, and create/recreate/start/noop/remove per replica.

Existing containers are plain data (labels dicts as the engine lists them):
the planner is a pure function, no engine involved.
"""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.compose import labels as L
from dockyard.compose.loader import LoadedProject
from dockyard.compose.planner import ExistingContainer, config_hash, dependency_levels, plan


def _containers(lp: LoadedProject, state: str = "running", **overrides: Any) -> list[dict[str, Any]]:
    """What the engine would list after a successful `up` of ``lp``."""
    out = []
    p = lp.project
    for name, svc in p.services.items():
        for n in range(1, svc.replicas + 1):
            labels = L.container_labels(p.name, name, svc.raw, n, working_dir=p.working_dir,
                                        config_files=p.config_files)
            out.append({"Id": f"id-{name}-{n}", "Names": [f"/{L.container_name(p.name, name, n)}"],
                        "Labels": labels, "State": overrides.get(name, state)})
    return out


def test_dependency_levels(load) -> None:
    p = load("planner").project
    assert dependency_levels(p) == [["batch", "cache", "db"], ["api"], ["web"]]
    assert dependency_levels(p, ["api"]) == [["cache", "db"], ["api"]]


def test_fresh_project_creates_everything_in_order(load) -> None:
    lp = load("planner")
    result = plan(lp.project, [])
    assert [a.service for a in result.actions] == ["batch", "cache", "db", "api", "web", "web"]
    assert {a.kind for a in result.actions} == {"create"}
    assert [a.name for a in result.for_service("web")] == ["plan-web-1", "plan-web-2"]


def test_second_up_with_nothing_changed_does_nothing(load) -> None:
    lp = load("planner")
    result = plan(lp.project, _containers(lp))
    assert {a.kind for a in result.actions} == {"noop"}
    assert result.orphans == []


def test_changed_service_is_recreated_with_its_dependents(load) -> None:
    before = load("planner")
    after = load("planner", "compose.yaml", "changed.yaml")
    result = plan(after.project, _containers(before))
    assert result.kinds() == {
        "batch": ["noop"], "cache": ["noop"], "db": ["recreate"],
        "api": ["recreate"], "web": ["recreate", "recreate"],
    }
    api = result.for_service("api")[0]
    assert api.reason == "dependency recreated: db" and api.container == "id-api-1"


def test_config_hash_tracks_the_service_config_only(load) -> None:
    a = load("planner").project
    b = load("planner", "compose.yaml", "changed.yaml").project
    c = load("planner", "compose.yaml", "scaled.yaml").project
    assert config_hash(a.services["db"]) != config_hash(b.services["db"])
    assert config_hash(a.services["api"]) == config_hash(b.services["api"])
    # replicas and depends_on conditions are not part of the container: same hash
    assert config_hash(a.services["web"]) == config_hash(c.services["web"])
    assert len(config_hash(a.services["web"])) == 64


def test_scale_up_and_down(load) -> None:
    two = load("planner")
    three = load("planner", "compose.yaml", "scaled.yaml")
    assert plan(three.project, _containers(two)).kinds()["web"] == ["noop", "noop", "create"]
    result = plan(two.project, _containers(three))
    assert result.kinds()["web"] == ["remove", "noop", "noop"]
    assert result.for_service("web")[0].name == "plan-web-3"
    assert plan(two.project, _containers(two), scale={"web": 1}).kinds()["web"] == ["remove", "noop"]


def test_stopped_containers_are_started(load) -> None:
    lp = load("planner")
    result = plan(lp.project, _containers(lp, cache="exited"))
    assert result.kinds()["cache"] == ["start"]
    assert result.kinds()["api"] == ["noop"]  # a start does not recreate dependents


def test_force_and_no_recreate(load) -> None:
    before = load("planner")
    after = load("planner", "compose.yaml", "changed.yaml")
    forced = plan(before.project, _containers(before), force_recreate=True)
    assert {a.kind for a in forced.actions} == {"recreate"}
    kept = plan(after.project, _containers(before), no_recreate=True)
    assert {a.kind for a in kept.actions} == {"noop"}
    with pytest.raises(ValueError):
        plan(before.project, [], force_recreate=True, no_recreate=True)


def test_orphans_other_projects_and_oneoffs(load) -> None:
    lp = load("planner")
    existing = _containers(lp)
    gone = dict(existing[0], Id="id-old", Names=["/plan-old-1"])
    gone["Labels"] = dict(gone["Labels"], **{L.SERVICE: "old"})
    other = dict(existing[0], Id="id-other")
    other["Labels"] = dict(other["Labels"], **{L.PROJECT: "otherproject", L.SERVICE: "x"})
    oneoff = dict(existing[0], Id="id-run")
    oneoff["Labels"] = dict(oneoff["Labels"], **{L.ONEOFF: "True", L.SERVICE: "gone-too"})
    result = plan(lp.project, [*existing, gone, other, oneoff])
    assert [c.id for c in result.orphans] == ["id-old"]
    assert plan(lp.project, [*existing, gone], known_services=["old"]).orphans == []


def test_targeted_services_bring_dependencies_only(load) -> None:
    lp = load("planner")
    result = plan(lp.project, [], services=["api"])
    assert sorted(result.kinds()) == ["api", "cache", "db"]


def test_labels_as_docker_compose_sets_them(load) -> None:
    lp = load("planner")
    api = lp.project.services["api"]
    labels = L.container_labels("plan", "api", api.raw, 1, working_dir="/w", config_files=["/w/compose.yaml"])
    assert labels[L.PROJECT] == "plan" and labels[L.SERVICE] == "api"
    assert labels[L.CONTAINER_NUMBER] == "1" and labels[L.ONEOFF] == "False"
    assert labels[L.DEPENDS_ON] == "cache:service_started:false,db:service_healthy:false"
    assert labels[L.CONFIG_HASH] == config_hash(api)
    assert labels[L.WORKING_DIR] == "/w" and labels[L.CONFIG_FILES] == "/w/compose.yaml"
    assert ExistingContainer.from_api({"Id": "x", "Names": ["/n"], "Labels": labels}).number == 1
