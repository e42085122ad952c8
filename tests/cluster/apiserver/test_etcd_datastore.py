"""``dockyard server --datastore etcd://…``: two API servers on one real
etcd see the same objects, watches, CRDs and RBAC rules."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver_harness import KUBECTL, RunningServer, start_server, stop_server

from dockyard.cluster.store.etcd import launch

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-etcd_datastore")

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: boats.dockyard.test}
spec:
  group: dockyard.test
  scope: Namespaced
  names: {plural: boats, singular: boat, kind: Boat}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


@pytest.fixture(scope="module")
def pair(module_tmp: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    with launch.cluster(1, str(module_tmp / "etcd")) as members:
        url = "etcd://" + members[0].address
        (module_tmp / "a").mkdir()
        (module_tmp / "b").mkdir()
        a = start_server(module_tmp / "a", "--datastore", url, data_dir=module_tmp / "shared")
        try:
            # the second server shares the first one's PKI, as HA servers do
            b = start_server(module_tmp / "b", "--datastore", url, data_dir=module_tmp / "shared")
            try:
                yield a, b
            finally:
                stop_server(b)
        finally:
            stop_server(a)


def _kubectl(server: RunningServer, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([KUBECTL, *args], input=input, env=server.env, text=True, capture_output=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def _eventually(fn, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_two_servers_share_objects_and_watches(pair: tuple[RunningServer, RunningServer]) -> None:
    a, b = pair
    _kubectl(a, "create", "deployment", "shared", "--image=nginx:1.25", "--replicas=2")
    got = json.loads(_kubectl(b, "get", "deployment", "shared", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 2
    _kubectl(a, "create", "configmap", "marker")
    watcher = subprocess.Popen([KUBECTL, "get", "cm", "-w", "-o", "name", "--request-timeout=8s"],
                               env=b.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().strip() == "configmap/marker"  # listed; watching now
        _kubectl(a, "create", "configmap", "from-a", "--from-literal=k=v")
        time.sleep(1.0)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    assert "configmap/from-a" in out.split()
    # optimistic concurrency across servers: a stale write through B loses
    obj = json.loads(_kubectl(a, "get", "cm", "from-a", "-o", "json").stdout)
    _kubectl(a, "label", "cm", "from-a", "x=1")
    obj["data"]["k"] = "stale"
    stale = _kubectl(b, "replace", "-f", "-", input=json.dumps(obj), check=False)
    assert stale.returncode == 1 and "the object has been modified" in stale.stderr


def test_crd_and_rbac_written_through_one_server_apply_on_the_other(pair: tuple[RunningServer, RunningServer], module_tmp: Path) -> None:
    a, b = pair
    _kubectl(a, "apply", "-f", "-", input=CRD)
    created = _eventually(lambda: _kubectl(b, "apply", "-f", "-", check=False, input=(
        "apiVersion: dockyard.test/v1\nkind: Boat\nmetadata: {name: skiff}\nspec: {length: 4}\n")).returncode == 0)
    assert created
    assert _kubectl(a, "get", "boat", "skiff", "-o", "jsonpath={.spec.length}").stdout == "4"
    # a ServiceAccount token minted by A, bound to a role through B, works on both
    _kubectl(a, "create", "serviceaccount", "mate")
    token = _kubectl(a, "create", "token", "mate").stdout.strip()
    _kubectl(b, "create", "rolebinding", "mate-view", "--clusterrole=view", "--serviceaccount=default:mate")
    for server in (a, b):
        as_mate = ["--kubeconfig=/dev/null", f"--server={server.url}", f"--token={token}",
                   f"--certificate-authority={server.data_dir / 'tls' / 'ca.crt'}"]
        assert _eventually(lambda s=as_mate: _kubectl(b, *s, "get", "deployments", check=False).returncode == 0)
