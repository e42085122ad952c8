"""The official ``kubernetes`` Python client against ``dockyard server``:
CRUD, optimistic concurrency, watch, the three patch types, a CRD, and
kubectl's protobuf-speaking typed commands."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from apiserver_harness import Kubectl, RunningServer
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-python_client")


@pytest.fixture(scope="module")
def api(apiserver: RunningServer) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    try:
        yield c
    finally:
        c.close()


def _status(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_configmap_crud_and_conflict(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    cm = v1.create_namespaced_config_map("default", {"metadata": {"name": "py-cm"}, "data": {"a": "1"}})
    assert cm.metadata.uid and cm.metadata.resource_version
    got = v1.read_namespaced_config_map("py-cm", "default")
    got.data["b"] = "2"
    updated = v1.replace_namespaced_config_map("py-cm", "default", got)
    assert updated.data == {"a": "1", "b": "2"}
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    got.data["c"] = "3"  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        v1.replace_namespaced_config_map("py-cm", "default", got)
    assert err.value.status == 409
    body = _status(err.value)
    assert body["kind"] == "Status" and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    listed = v1.list_namespaced_config_map("default", field_selector="metadata.name=py-cm")
    assert [i.metadata.name for i in listed.items] == ["py-cm"]
    v1.delete_namespaced_config_map("py-cm", "default")
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_config_map("py-cm", "default")
    assert err.value.status == 404 and _status(err.value)["reason"] == "NotFound"


def test_generate_name_and_pagination(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "paging"}})
    names = {v1.create_namespaced_config_map("paging", {"metadata": {"generateName": "pg-"}}).metadata.name
             for _ in range(7)}
    assert len(names) == 7 and all(n.startswith("pg-") and len(n) == 8 for n in names)
    seen, token, pages = [], None, 0
    while True:
        page = v1.list_namespaced_config_map("paging", limit=3, _continue=token)
        seen += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert sorted(seen) == sorted(names) and pages == 3
    # paging through a filtered list (the decoding path) keeps the selector's meaning
    for i, name in enumerate(sorted(names)):
        v1.patch_namespaced_config_map(name, "paging", {"metadata": {"labels": {"odd": str(i % 2)}}})
    seen, token = [], None
    while True:
        page = v1.list_namespaced_config_map("paging", limit=2, _continue=token, label_selector="odd=1")
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert seen == sorted(names)[1::2]


def test_watch_events(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "watching"}})
    start_rv = v1.list_namespaced_config_map("watching").metadata.resource_version
    events: list[tuple[str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, "watching", resource_version=start_rv,
                           timeout_seconds=15):
            events.append((ev["type"], ev["object"].metadata.name))
            if len(events) == 3:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.5)
    v1.create_namespaced_config_map("watching", {"metadata": {"name": "w1"}})
    v1.patch_namespaced_config_map("w1", "watching", {"data": {"x": "y"}})
    v1.delete_namespaced_config_map("w1", "watching")
    t.join(20)
    assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_deployment_patches_and_scale(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    body = {
        "metadata": {"name": "py-dep"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "p"}},
                 "template": {"metadata": {"labels": {"app": "p"}},
                              "spec": {"containers": [{"name": "a", "image": "busybox"}]}}},
    }
    apps.create_namespaced_deployment("default", body)
    # strategic merge (the client's default for a dict): containers merge by name
    apps.patch_namespaced_deployment("py-dep", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "b", "image": "busybox"}]}}}})
    dep = apps.read_namespaced_deployment("py-dep", "default")
    assert sorted(c.name for c in dep.spec.template.spec.containers) == ["a", "b"]
    # JSON patch (a list body)
    apps.patch_namespaced_deployment("py-dep", "default", [{"op": "replace", "path": "/spec/replicas", "value": 3}])
    scale = apps.read_namespaced_deployment_scale("py-dep", "default")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=p"
    apps.patch_namespaced_deployment_scale("py-dep", "default", {"spec": {"replicas": 6}})
    assert apps.read_namespaced_deployment("py-dep", "default").spec.replicas == 6
    # the status subresource changes status only; the main resource ignores status
    dep = apps.read_namespaced_deployment("py-dep", "default")
    dep.status = client.V1DeploymentStatus(replicas=6, ready_replicas=2)
    apps.replace_namespaced_deployment_status("py-dep", "default", dep)
    dep = apps.read_namespaced_deployment("py-dep", "default")
    assert dep.status.ready_replicas == 2
    gen = dep.metadata.generation
    apps.patch_namespaced_deployment("py-dep", "default", {"status": {"readyReplicas": 5}})
    dep = apps.read_namespaced_deployment("py-dep", "default")
    assert dep.status.ready_replicas == 2 and dep.metadata.generation == gen


def test_finalizers_delay_deletion(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map("default", {"metadata": {"name": "fin", "finalizers": ["example.com/hold"]}})
    v1.delete_namespaced_config_map("fin", "default")
    held = v1.read_namespaced_config_map("fin", "default")
    assert held.metadata.deletion_timestamp is not None
    v1.patch_namespaced_config_map("fin", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_config_map("fin", "default")
    assert err.value.status == 404


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["gd"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "required": ["size"], "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "color": {"type": "string", "enum": ["red", "blue"]}}},
                "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
            }}},
        }],
    },
}


def test_crd_with_custom_objects_api(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(CRD)
    crd = ext.read_custom_resource_definition("gadgets.example.com")
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    co = client.CustomObjectsApi(api)
    obj = co.create_namespaced_custom_object("example.com", "v1", "default", "gadgets", {
        "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"},
        "spec": {"size": 2, "color": "red"}})
    assert obj["metadata"]["generation"] == 1
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object("example.com", "v1", "default", "gadgets", {
            "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g2"},
            "spec": {"size": 0, "color": "green"}})
    assert err.value.status == 422
    fields = {c["field"] for c in _status(err.value)["details"]["causes"]}
    assert fields == {"spec.size", "spec.color"}
    co.patch_namespaced_custom_object_status("example.com", "v1", "default", "gadgets", "g1",
                                             {"status": {"ok": True}})
    got = co.get_namespaced_custom_object("example.com", "v1", "default", "gadgets", "g1")
    assert got["status"] == {"ok": True} and got["metadata"]["generation"] == 1
    listed = co.list_namespaced_custom_object("example.com", "v1", "default", "gadgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["g1"]
    ext.delete_custom_resource_definition("gadgets.example.com")
    with pytest.raises(ApiException) as err:
        co.list_namespaced_custom_object("example.com", "v1", "default", "gadgets")
    assert err.value.status == 404


def test_kubectl_typed_commands_send_protobuf(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "pb-cm", "--from-literal=a=b")
    kubectl("create", "secret", "generic", "pb-secret", "--from-literal=p=q")
    kubectl("create", "deployment", "pb-dep", "--image=nginx:1.25", "--replicas=0")
    kubectl("create", "service", "clusterip", "pb-svc", "--tcp=80:8080")
    assert kubectl("get", "cm", "pb-cm", "-o", "jsonpath={.data.a}").stdout == "b"
    assert kubectl("get", "secret", "pb-secret", "-o", "jsonpath={.data.p}").stdout == "cQ=="
    dep = json.loads(kubectl("get", "deploy", "pb-dep", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 0  # an explicit zero survives the protobuf decoding
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    svc = json.loads(kubectl("get", "svc", "pb-svc", "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert svc["spec"]["clusterIP"].startswith("10.43.")
    assert "nodePort" not in svc["spec"]["ports"][0]
    # embedded structs that JSON inlines (IngressRule.ingressRuleValue) come out inlined
    kubectl("create", "ingress", "pb-ing", "--rule=foo.example/=svc:80")
    ing = json.loads(kubectl("get", "ingress", "pb-ing", "-o", "json").stdout)
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {"name": "svc", "port": {"number": 80}}


def test_delete_collection_with_selector(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "sweep"}})
    for i in range(4):
        v1.create_namespaced_config_map("sweep", {"metadata": {"name": f"s{i}", "labels": {"keep": str(i % 2 == 0).lower()}}})
    v1.delete_collection_namespaced_config_map("sweep", label_selector="keep=false")
    left = sorted(i.metadata.name for i in v1.list_namespaced_config_map("sweep").items)
    assert left == ["s0", "s2"]
    with pytest.raises(ApiException) as err:
        v1.delete_collection_namespaced_config_map("sweep", label_selector="keep in (")
    assert err.value.status == 400
    assert sorted(i.metadata.name for i in v1.list_namespaced_config_map("sweep").items) == ["s0", "s2"]
