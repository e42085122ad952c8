"""Server-side apply and managedFields on plain dicts (apply.py)."""

from __future__ import annotations

import copy

import pytest

from dockyard.cluster.apiserver import apply as ssa
from dockyard.cluster.apiserver.errors import BadRequest, Conflict
from dockyard.cluster.apiserver.resources import ResourceTable
from dockyard.cluster.apiserver.storage import WriteOptions, schema_for

TABLE = ResourceTable()
PODS = TABLE.lookup("", "v1", "pods")
CMS = TABLE.lookup("", "v1", "configmaps")
assert PODS is not None and CMS is not None


def _apply(live: dict | None, applied: dict, manager: str, force: bool = False, rtype=PODS) -> dict:  # type: ignore[no-untyped-def]
    return ssa.apply(copy.deepcopy(live), applied, WriteOptions(field_manager=manager, force=force), rtype, schema_for(rtype))


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
       "spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}]},
                               {"name": "b", "image": "y:1"}]}}


def test_reapply_changes_and_removes_own_fields() -> None:
    live = _apply(None, POD, "alice")
    changed = copy.deepcopy(POD)
    changed["spec"]["containers"][0]["image"] = "x:2"
    del changed["spec"]["containers"][1]  # no longer applied: removed
    del changed["metadata"]["labels"]
    out = _apply(live, changed, "alice")
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("a", "x:2")]
    assert not out["metadata"].get("labels")  # storage drops the empty map, as Go would
    assert [m["manager"] for m in out["metadata"]["managedFields"]] == ["alice"]


def test_conflicts_between_managers_and_force() -> None:
    live = _apply(None, POD, "alice")
    mine = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "image": "x:9"}]}}
    with pytest.raises(Conflict) as err:
        _apply(live, mine, "bob")
    assert err.value.causes[0]["field"] == '.spec.containers[{"name":"a"}].image'
    assert 'conflict with "alice"' in err.value.causes[0]["message"]
    out = _apply(live, mine, "bob", force=True)
    assert out["spec"]["containers"][0]["image"] == "x:9"
    owners = {m["manager"]: ssa.from_fields_v1(m["fieldsV1"]) for m in out["metadata"]["managedFields"]}
    image = ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")
    assert image in owners["bob"] and image not in owners["alice"]
    # a field applied by two managers with the same value is shared, not a conflict
    same = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}}}
    _apply(live, same, "carol")


def test_a_field_owned_by_another_manager_survives() -> None:
    live = _apply(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                         "data": {"x": "1", "y": "2"}}, "alice", rtype=CMS)
    live = _apply(live, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                         "data": {"y": "2"}}, "bob", rtype=CMS)
    out = _apply(live, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                        "data": {"x": "1"}}, "alice", rtype=CMS)
    assert out["data"] == {"x": "1", "y": "2"}  # bob still owns y


def test_update_operations_take_ownership() -> None:
    old = _apply(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}, "alice", rtype=CMS)
    new = copy.deepcopy(old)
    new["data"]["x"] = "2"
    ssa.track_write(old, new, WriteOptions(field_manager="kubectl-edit"), CMS)
    owners = {m["manager"]: (m["operation"], ssa.from_fields_v1(m["fieldsV1"])) for m in new["metadata"]["managedFields"]}
    assert owners["kubectl-edit"] == ("Update", {("f:data", "f:x")})
    assert "alice" not in owners  # its only field was taken


def test_apply_needs_a_field_manager() -> None:
    with pytest.raises(BadRequest):
        ssa.apply(None, POD, WriteOptions(), PODS, schema_for(PODS))
