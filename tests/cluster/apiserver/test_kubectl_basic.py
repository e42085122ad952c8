"""The real kubectl 1.32 against ``dockyard server``: get/create/apply/patch/
label/annotate/scale/delete, discovery and OpenAPI-driven commands."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml
from apiserver_harness import KUBECTL, Kubectl, RunningServer

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-kubectl_basic")

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{{containerPort: 80}}]
        env: [{{name: A, value: "1"}}]
"""

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, labels: {{tier: {tier}}}}}
data: {{key: value}}
"""


def test_system_namespaces_and_kubernetes_service(apiserver: RunningServer, kubectl: Kubectl) -> None:
    out = kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(out)
    svc = json.loads(kubectl("get", "svc", "kubernetes", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == "10.43.0.1"
    ports = kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].ports[0].port}").stdout
    assert ports == str(apiserver.port)
    table = kubectl("get", "ns", "default").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "AGE"]
    assert table[1].split()[:2] == ["default", "Active"]


def test_discovery_commands(kubectl: Kubectl) -> None:
    resources = kubectl("api-resources").stdout
    for line in ("deployments", "deploy", "apps/v1", "Deployment"), ("pods", "po", "v1", "Pod"):
        assert any(all(word in row.split() for word in line) for row in resources.splitlines()), line
    versions = kubectl("api-versions").stdout.split()
    assert {"v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1",
            "apiextensions.k8s.io/v1", "autoscaling/v2"} <= set(versions)
    namespaced = kubectl("api-resources", "--namespaced=false", "-o", "name").stdout.split()
    assert "nodes" in namespaced and "pods" not in namespaced


def test_explain_uses_openapi_v3(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy").stdout
    assert "KIND:       Deployment" in out and "DeploymentStrategy" in out
    out = kubectl("explain", "pods.spec.containers.image").stdout
    assert "FIELD: image <string>" in out


def test_create_get_output_formats_delete(kubectl: Kubectl) -> None:
    kubectl("create", "-f", "-", input=CONFIGMAP.format(name="fmt", tier="a"))
    as_json = json.loads(kubectl("get", "cm", "fmt", "-o", "json").stdout)
    assert as_json["data"] == {"key": "value"}
    meta = as_json["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and int(meta["resourceVersion"]) > 0
    as_yaml = yaml.safe_load(kubectl("get", "cm", "fmt", "-o", "yaml").stdout)
    assert as_yaml["metadata"]["uid"] == meta["uid"]
    assert kubectl("get", "cm", "fmt", "-o", "jsonpath={.data.key}").stdout == "value"
    cols = kubectl("get", "cm", "fmt", "-o", "custom-columns=N:.metadata.name,T:.metadata.labels.tier").stdout
    assert cols.split() == ["N", "T", "fmt", "a"]
    table = kubectl("get", "cm", "fmt").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"] and table[1].split()[:2] == ["fmt", "1"]
    again = kubectl("create", "-f", "-", input=CONFIGMAP.format(name="fmt", tier="a"), check=False)
    assert again.returncode == 1 and 'configmaps "fmt" already exists' in again.stderr
    assert 'configmap "fmt" deleted' in kubectl("delete", "cm", "fmt").stdout
    gone = kubectl("get", "cm", "fmt", check=False)
    assert gone.returncode == 1 and 'configmaps "fmt" not found' in gone.stderr


def test_label_selectors_label_annotate(kubectl: Kubectl) -> None:
    for name, tier in (("sel-a", "front"), ("sel-b", "back"), ("sel-c", "front")):
        kubectl("create", "-f", "-", input=CONFIGMAP.format(name=name, tier=tier))
    names = kubectl("get", "cm", "-l", "tier=front", "-o", "name").stdout.split()
    assert names == ["configmap/sel-a", "configmap/sel-c"]
    names = kubectl("get", "cm", "-l", "tier in (back),tier!=front", "-o", "name").stdout.split()
    assert names == ["configmap/sel-b"]
    kubectl("label", "cm", "sel-b", "extra=yes")
    kubectl("annotate", "cm", "sel-b", "note=hello")
    obj = json.loads(kubectl("get", "cm", "sel-b", "-o", "json").stdout)
    assert obj["metadata"]["labels"] == {"tier": "back", "extra": "yes"}
    assert obj["metadata"]["annotations"]["note"] == "hello"
    kubectl("label", "cm", "sel-b", "extra-")
    assert "extra" not in json.loads(kubectl("get", "cm", "sel-b", "-o", "json").stdout)["metadata"]["labels"]
    names = kubectl("get", "cm", "--field-selector", "metadata.name=sel-c", "-o", "name").stdout.split()
    assert names == ["configmap/sel-c"]
    bad = kubectl("get", "cm", "-l", "tier in (a", check=False)
    assert bad.returncode == 1
    kubectl("delete", "cm", "-l", "tier")
    assert kubectl("get", "cm", "-l", "tier", "-o", "name").stdout == ""


def test_apply_client_side_then_server_side(kubectl: Kubectl) -> None:
    manifest = DEPLOYMENT.format(name="web", replicas=2)
    assert "deployment.apps/web created" in kubectl("apply", "-f", "-", input=manifest).stdout
    assert "unchanged" in kubectl("apply", "-f", "-", input=manifest).stdout
    changed = manifest.replace("replicas: 2", "replicas: 3").replace('value: "1"', 'value: "2"')
    assert "configured" in kubectl("apply", "-f", "-", input=changed).stdout
    obj = json.loads(kubectl("get", "deploy", "web", "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "2"}]
    assert obj["metadata"]["generation"] == 2
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    # server-side apply by another manager conflicts on replicas unless forced
    ssa = changed.replace("replicas: 3", "replicas: 5")
    conflict = kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=ssa, check=False)
    assert conflict.returncode == 1 and "conflict" in conflict.stderr.lower() and ".spec.replicas" in conflict.stderr
    kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-", input=ssa)
    obj = json.loads(kubectl("get", "deploy", "web", "-o", "json", "--show-managed-fields").stdout)
    assert obj["spec"]["replicas"] == 5
    managers = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert managers["other"]["operation"] == "Apply"
    assert "f:replicas" in managers["other"]["fieldsV1"]["f:spec"]


def test_patch_three_types_and_scale(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="pt", replicas=1))
    kubectl("patch", "deploy", "pt", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}')
    names = kubectl("get", "deploy", "pt", "-o", "jsonpath={.spec.template.spec.containers[*].name}").stdout
    assert names.split() == ["side", "web"] or names.split() == ["web", "side"]  # merged by name
    kubectl("patch", "deploy", "pt", "--type=merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
    kubectl("patch", "deploy", "pt", "--type=json", "-p",
            '[{"op":"replace","path":"/spec/replicas","value":4}]')
    obj = json.loads(kubectl("get", "deploy", "pt", "-o", "json").stdout)
    assert obj["metadata"]["labels"]["m"] == "1" and obj["spec"]["replicas"] == 4
    bad = kubectl("patch", "deploy", "pt", "--type=json", "-p", '[{"op":"remove","path":"/spec/nope"}]', check=False)
    assert bad.returncode == 1
    assert "scaled" in kubectl("scale", "deploy", "pt", "--replicas=7").stdout
    assert kubectl("get", "deploy", "pt", "-o", "jsonpath={.spec.replicas}").stdout == "7"
    stale = kubectl("scale", "deploy", "pt", "--replicas=2", "--resource-version=1", check=False)
    assert stale.returncode == 1 and "resource version" in stale.stderr
    wide = kubectl("get", "deploy", "pt", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "CONTAINERS" in wide[0] and "SELECTOR" in wide[0]


def test_strict_field_validation_and_bad_names(kubectl: Kubectl) -> None:
    bad = CONFIGMAP.format(name="strict", tier="x") + "bogus: 1\n"
    out = kubectl("create", "-f", "-", input=bad, check=False)
    assert out.returncode == 1 and 'unknown field "bogus"' in out.stderr
    out = kubectl("create", "-f", "-", input=CONFIGMAP.format(name="Bad_Name", tier="x"), check=False)
    assert out.returncode == 1 and "is invalid" in out.stderr and "RFC 1123" in out.stderr
    out = kubectl("create", "--dry-run=server", "-o", "name", "-f", "-",
                  input=CONFIGMAP.format(name="dry", tier="x"))
    assert out.stdout.strip() == "configmap/dry"
    assert kubectl("get", "cm", "dry", check=False).returncode == 1


def test_get_watch_sees_changes(apiserver: RunningServer, kubectl: Kubectl) -> None:
    kubectl("create", "-f", "-", input=CONFIGMAP.format(name="watched", tier="w"))
    proc = subprocess.Popen([KUBECTL, "get", "cm", "-l", "tier=w", "-w", "--request-timeout=8s",
                             "-o", "name"], env=apiserver.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()  # the list is done: the watch follows from it
        kubectl("label", "cm", "watched", "more=1")
        kubectl("delete", "cm", "watched")
        time.sleep(1.0)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [first] + [line for line in out.splitlines() if line]
    assert lines.count("configmap/watched") >= 3, lines  # initial, modified, deleted
