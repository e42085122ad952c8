"""More of kubectl's everyday commands (describe, edit with a scripted
EDITOR, diff, delete cascade modes) and the pod lifecycle verbs the
scheduler and ``kubectl drain`` use (binding, graceful deletion, eviction)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
from apiserver_harness import KUBECTL, Kubectl, RunningServer
from kubernetes import client, config
from kubernetes.client.rest import ApiException

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-kubectl_workflows")

POD = {"metadata": {"name": "{name}", "labels": {"app": "drain"}},
       "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


@pytest.fixture(scope="module")
def core(apiserver: RunningServer) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def _pod(name: str) -> dict:
    return json.loads(json.dumps(POD).replace("{name}", name))


def test_describe_edit_diff(apiserver: RunningServer, kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "wf", "--image=nginx:1.25")
    described = kubectl("describe", "deployment", "wf").stdout
    assert "Name:                   wf" in described and "RollingUpdate" in described
    env = {**apiserver.env, "EDITOR": "sed -i s/nginx:1.25/nginx:1.26/", "KUBE_EDITOR": ""}
    edited = subprocess.run([KUBECTL, "edit", "deployment", "wf"], env=env, text=True, capture_output=True, timeout=30)
    assert edited.returncode == 0, edited.stderr
    assert kubectl("get", "deploy", "wf", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout == "nginx:1.26"
    manifest = kubectl("get", "deploy", "wf", "-o", "yaml").stdout.replace("replicas: 1", "replicas: 4")
    same = kubectl("diff", "-f", "-", input=kubectl("get", "deploy", "wf", "-o", "yaml").stdout, check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    diff = kubectl("diff", "-f", "-", input=manifest, check=False)
    assert diff.returncode == 1 and "-  replicas: 1" in diff.stdout and "+  replicas: 4" in diff.stdout
    assert kubectl("get", "deploy", "wf", "-o", "jsonpath={.spec.replicas}").stdout == "1"  # diff is a dry run


def test_delete_cascade_modes(kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "fg", "--image=nginx")
    kubectl("delete", "deployment", "fg", "--cascade=foreground", "--wait=false")
    obj = json.loads(kubectl("get", "deployment", "fg", "-o", "json").stdout)
    # the garbage collector finishes a foreground deletion; the server only marks it
    assert obj["metadata"]["finalizers"] == ["foregroundDeletion"] and obj["metadata"]["deletionTimestamp"]
    kubectl("create", "deployment", "orph", "--image=nginx")
    kubectl("delete", "deployment", "orph", "--cascade=orphan", "--wait=false")
    obj = json.loads(kubectl("get", "deployment", "orph", "-o", "json").stdout)
    assert obj["metadata"]["finalizers"] == ["orphan"]
    kubectl("create", "deployment", "bg", "--image=nginx")
    kubectl("delete", "deployment", "bg", "--cascade=background")
    assert kubectl("get", "deployment", "bg", check=False).returncode == 1


def test_binding_graceful_deletion_and_immutability(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", _pod("bound"))
    core.create_namespaced_pod_binding("bound", "default", {
        "metadata": {"name": "bound"}, "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}},
        _preload_content=False)
    assert core.read_namespaced_pod("bound", "default").spec.node_name == "node-a"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("bound", "default", {
            "metadata": {"name": "bound"}, "target": {"name": "node-b"}}, _preload_content=False)
    assert err.value.status == 409
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_pod("bound", "default", {"spec": {"restartPolicy": "Never"}})
    assert err.value.status == 422 and "pod updates may not change" in err.value.body
    core.patch_namespaced_pod("bound", "default", {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}})
    # a scheduled pod is deleted gracefully: the kubelet finishes the job
    core.delete_namespaced_pod("bound", "default")
    pod = core.read_namespaced_pod("bound", "default")
    assert pod.metadata.deletion_timestamp is not None and pod.metadata.deletion_grace_period_seconds == 30
    core.delete_namespaced_pod("bound", "default", grace_period_seconds=0)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("bound", "default")
    assert err.value.status == 404
    # an unscheduled pod goes at once
    core.create_namespaced_pod("default", _pod("unbound"))
    core.delete_namespaced_pod("unbound", "default")
    with pytest.raises(ApiException):
        core.read_namespaced_pod("unbound", "default")


def test_eviction_respects_disruption_budget(core: client.CoreV1Api, apiserver: RunningServer) -> None:
    api = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    policy = client.PolicyV1Api(api)
    policy.create_namespaced_pod_disruption_budget("default", {
        "metadata": {"name": "keep"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "drain"}}}})
    for name in ("ev-1", "ev-2"):
        core.create_namespaced_pod("default", _pod(name))
        core.patch_namespaced_pod_status(name, "default", {"status": {"phase": "Running"}})
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "ev-1"}}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_eviction("ev-1", "default", eviction)
    assert err.value.status == 429 and json.loads(err.value.body)["reason"] == "TooManyRequests"
    policy.patch_namespaced_pod_disruption_budget_status("keep", "default", {"status": {
        "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2,
        "observedGeneration": 1}})
    core.create_namespaced_pod_eviction("ev-1", "default", eviction)
    with pytest.raises(ApiException):
        core.read_namespaced_pod("ev-1", "default")
    budget = policy.read_namespaced_pod_disruption_budget("keep", "default")
    assert budget.status.disruptions_allowed == 0
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_eviction("ev-2", "default", {**eviction, "metadata": {"name": "ev-2"}})
    assert err.value.status == 429
    api.close()
    assert os.path.exists(apiserver.kubeconfig)
