"""A CustomResourceDefinition and its custom resources, end to end with kubectl."""

from __future__ import annotations

import json

import pytest
import yaml
from apiserver_harness import Kubectl

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-kubectl_crd")

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.dockyard.test
spec:
  group: dockyard.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            properties:
              size: {type: integer, minimum: 1, description: How big.}
              tags: {type: array, items: {type: string}}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              phase: {type: string}
"""

WIDGET = """
apiVersion: dockyard.test/v1alpha1
kind: Widget
metadata: {{name: {name}}}
spec:
  size: {size}
  tags: [a, b]
  extra: {{anything: [1, 2, {{deep: true}}]}}
"""


def test_crd_end_to_end(kubectl: Kubectl) -> None:
    assert "created" in kubectl("apply", "-f", "-", input=CRD).stdout
    resources = kubectl("api-resources", "--api-group=dockyard.test").stdout
    assert "widgets" in resources and "wd" in resources and "Widget" in resources
    kubectl("apply", "-f", "-", input=WIDGET.format(name="w1", size=3))
    kubectl("apply", "-f", "-", input=WIDGET.format(name="w2", size=5))
    table = kubectl("get", "widgets").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "AGE"]
    assert [row.split()[:2] for row in table[1:]] == [["w1", "3"], ["w2", "5"]]
    obj = yaml.safe_load(kubectl("get", "wd", "w1", "-o", "yaml").stdout)
    assert obj["spec"]["extra"] == {"anything": [1, 2, {"deep": True}]}  # preserved unknown fields
    assert obj["metadata"]["generation"] == 1
    # client-side apply of a change: kubectl uses a JSON merge patch for custom resources
    assert "configured" in kubectl("apply", "-f", "-", input=WIDGET.format(name="w1", size=4)).stdout
    assert kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.size}").stdout == "4"
    kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":9}}')
    obj = json.loads(kubectl("get", "widget", "w1", "-o", "json").stdout)
    assert obj["spec"]["size"] == 9 and obj["metadata"]["generation"] == 3
    # strategic merge patch is refused for custom resources, as by kube-apiserver
    smp = kubectl("patch", "widget", "w1", "--type=strategic", "-p", '{"spec":{"size":2}}', check=False)
    assert smp.returncode == 1 and "unknown format" in smp.stderr
    # schema validation
    bad = kubectl("apply", "-f", "-", input=WIDGET.format(name="w3", size=0), check=False)
    assert bad.returncode == 1 and "spec.size" in bad.stderr and "Invalid value" in bad.stderr
    unknown = kubectl("apply", "-f", "-", input=WIDGET.format(name="w4", size=1) + "  bogus: 1\n", check=False)
    assert unknown.returncode == 1 and 'unknown field "spec.bogus"' in unknown.stderr
    # status subresource
    kubectl("patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Ready"}}')
    assert kubectl("get", "widget", "w1", "-o", "jsonpath={.status.phase}").stdout == "Ready"
    explained = kubectl("explain", "widget.spec.size").stdout
    assert "How big." in explained
    # server-side apply on a custom resource
    kubectl("apply", "--server-side", "-f", "-", input=WIDGET.format(name="w5", size=2))
    assert kubectl("get", "widget", "w5", "-o", "jsonpath={.spec.size}").stdout == "2"
    kubectl("delete", "widget", "w2")
    assert kubectl("get", "widgets", "-o", "name").stdout.split() == ["widget.dockyard.test/w1", "widget.dockyard.test/w5"]
    kubectl("delete", "crd", "widgets.dockyard.test")
    gone = kubectl("get", "widgets", check=False)
    assert gone.returncode == 1


MULTI = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crews.dockyard.test
spec:
  group: dockyard.test
  scope: Namespaced
  names: {plural: crews, singular: crew, kind: Crew}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.size, labelSelectorPath: .status.selector}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, default: 1}
              role: {type: string, default: deckhand}
          status:
            type: object
            properties:
              size: {type: integer}
              selector: {type: string}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"""


def test_crd_versions_defaults_and_scale(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=MULTI)
    kubectl("apply", "-f", "-", input="apiVersion: dockyard.test/v1\nkind: Crew\nmetadata: {name: c1}\nspec: {}\n")
    obj = json.loads(kubectl("get", "crews.v1.dockyard.test", "c1", "-o", "json").stdout)
    assert obj["spec"] == {"size": 1, "role": "deckhand"}  # defaults from the schema
    as_v2 = json.loads(kubectl("get", "crews.v2.dockyard.test", "c1", "-o", "json").stdout)
    assert as_v2["apiVersion"] == "dockyard.test/v2" and as_v2["spec"]["size"] == 1
    assert "scaled" in kubectl("scale", "crew", "c1", "--replicas=4").stdout
    assert kubectl("get", "crew", "c1", "-o", "jsonpath={.spec.size}").stdout == "4"
    kubectl("delete", "crd", "crews.dockyard.test")
