"""The three patch flavours on plain dicts, against Kubernetes' documented
results (strategic merge patch directives included)."""

from __future__ import annotations

import pytest

from dockyard.cluster.apiserver import patch, schemas
from dockyard.cluster.apiserver.errors import BadRequest, Invalid, UnsupportedMediaType

DEPLOYMENT = schemas.definition("io.k8s.api.apps.v1.Deployment")
POD = schemas.definition("io.k8s.api.core.v1.Pod")


def _pod(*containers: dict, **spec: object) -> dict:
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers), **spec}}


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = patch.json_patch(doc, [
        {"op": "add", "path": "/a/b/1", "value": 9},
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "replace", "path": "/c", "value": "y"},
        {"op": "copy", "from": "/c", "path": "/d"},
        {"op": "move", "from": "/d", "path": "/e~1f"},
        {"op": "test", "path": "/e~1f", "value": "y"},
        {"op": "remove", "path": "/a/b/0"},
    ])
    assert out == {"a": {"b": [9, 2, 3]}, "c": "y", "e/f": "y"}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}  # the input is untouched
    with pytest.raises(Invalid):
        patch.json_patch(doc, [{"op": "test", "path": "/c", "value": "nope"}])
    with pytest.raises(Invalid):
        patch.json_patch(doc, [{"op": "remove", "path": "/missing"}])
    with pytest.raises(BadRequest):
        patch.json_patch(doc, {"op": "add"})


def test_merge_patch_rfc7386() -> None:
    doc = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    out = patch.merge_patch(doc, {"a": "z", "c": {"f": None}, "l": [3], "n": {"x": None}})
    assert out == {"a": "z", "c": {"d": "e"}, "l": [3]}


def test_strategic_merge_lists_by_merge_key() -> None:
    pod = _pod({"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}, {"name": "b", "image": "y"})
    out = patch.strategic_merge_patch(pod, {"spec": {"containers": [
        {"name": "a", "env": [{"name": "B", "value": "2"}]},
        {"name": "c", "image": "z"},
        {"name": "b", "$patch": "delete"},
    ]}}, POD)
    assert [c["name"] for c in out["spec"]["containers"]] == ["a", "c"]
    assert out["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert out["spec"]["containers"][0]["image"] == "x"


def test_strategic_merge_directives() -> None:
    pod = _pod({"name": "a", "image": "x"}, {"name": "b", "image": "y"}, tolerations=[{"key": "t1"}])
    pod["metadata"]["finalizers"] = ["f1", "f2", "f3"]
    out = patch.strategic_merge_patch(pod, {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["f2"]},
        "spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                 "containers": [{"name": "a", "image": "x2"}],
                 "tolerations": [{"key": "t2"}]},  # atomic list: replaced
    }, POD)
    assert out["metadata"]["finalizers"] == ["f1", "f3"]
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("b", "y"), ("a", "x2")]
    assert out["spec"]["tolerations"] == [{"key": "t2"}]
    replaced = patch.strategic_merge_patch(pod, {"spec": {"$patch": "replace", "containers": [{"name": "z", "image": "q"}]}}, POD)
    assert replaced["spec"] == {"containers": [{"name": "z", "image": "q"}]}


def test_strategic_merge_retain_keys() -> None:
    dep = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = patch.strategic_merge_patch(dep, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, DEPLOYMENT)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_strategic_merge_needs_a_schema() -> None:
    with pytest.raises(UnsupportedMediaType):
        patch.strategic_merge_patch({}, {"a": 1}, None)
