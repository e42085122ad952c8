"""Admission: namespace lifecycle, LimitRanger, ResourceQuota and Pod
Security Admission, through kubectl and the Python client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from apiserver_harness import Kubectl, RunningServer
from kubernetes import client, config
from kubernetes.client.rest import ApiException

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-admission")


@pytest.fixture(scope="module")
def core(apiserver: RunningServer) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def _pod(name: str, **container: object) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36", **container}]}}


def _reason(err: ApiException) -> tuple[int, str, str]:
    body = json.loads(err.body)
    return err.status, body["reason"], body["message"]


def test_terminating_namespace_refuses_new_content(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "ending"}})
    core.delete_namespace("ending")
    ns = core.read_namespace("ending")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("ending", {"metadata": {"name": "late"}})
    status, reason, message = _reason(err.value)
    assert (status, reason) == (403, "Forbidden") and "because it is being terminated" in message
    # the namespace controller empties spec.finalizers through "finalize": then it is gone
    ns.spec.finalizers = []
    core.replace_namespace_finalize("ending", ns)
    with pytest.raises(ApiException) as err:
        core.read_namespace("ending")
    assert err.value.status == 404


def test_limit_range_defaults_and_bounds(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "limited"}})
    core.create_namespaced_limit_range("limited", {"metadata": {"name": "lr"}, "spec": {"limits": [{
        "type": "Container", "default": {"cpu": "500m", "memory": "128Mi"},
        "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "1"}}]}})
    pod = core.create_namespaced_pod("limited", _pod("defaulted"))
    res = pod.spec.containers[0].resources
    assert res.limits == {"cpu": "500m", "memory": "128Mi"} and res.requests["cpu"] == "100m"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("limited", _pod("greedy", resources={"limits": {"cpu": "2"}}))
    status, _, message = _reason(err.value)
    assert status == 403 and "maximum cpu usage per Container is 1, but limit is 2" in message


def test_resource_quota_counts(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "quota"}})
    core.create_namespaced_resource_quota("quota", {"metadata": {"name": "q"}, "spec": {"hard": {
        "count/configmaps": "2", "pods": "1", "requests.cpu": "1"}}})
    core.create_namespaced_config_map("quota", {"metadata": {"name": "one"}})
    core.create_namespaced_config_map("quota", {"metadata": {"name": "two"}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("quota", {"metadata": {"name": "three"}})
    status, _, message = _reason(err.value)
    assert status == 403 and "exceeded quota: q" in message and "count/configmaps=2" in message
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("quota", _pod("big", resources={"requests": {"cpu": "1500m"}}))
    assert "requests.cpu" in _reason(err.value)[2]
    core.create_namespaced_pod("quota", _pod("small", resources={"requests": {"cpu": "500m"}}))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("quota", _pod("second", resources={"requests": {"cpu": "100m"}}))
    assert "pods=1" in _reason(err.value)[2]


def test_pod_security_admission(core: client.CoreV1Api, kubectl: Kubectl) -> None:
    core.create_namespace({"metadata": {"name": "secure", "labels": {
        "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"}}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("secure", _pod("priv", security_context={"privileged": True}))
    status, _, message = _reason(err.value)
    assert status == 403 and 'violates PodSecurity "baseline:latest": privileged' in message
    with pytest.raises(ApiException):
        core.create_namespaced_pod("secure", {"metadata": {"name": "hostnet"}, "spec": {
            "hostNetwork": True, "containers": [{"name": "c", "image": "busybox"}]}})
    # baseline-compliant but not restricted: admitted, with kubectl printing the warning
    out = kubectl("run", "plain", "-n", "secure", "--image=busybox:1.36")
    assert 'would violate PodSecurity "restricted:latest"' in out.stderr
    assert "allowPrivilegeEscalation != false" in out.stderr
    restricted = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                  "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    out = kubectl("run", "tight", "-n", "secure", "--image=busybox:1.36",
                  "--overrides", json.dumps({"spec": {"containers": [
                      {"name": "tight", "image": "busybox:1.36", "securityContext": restricted}]}}))
    assert "would violate" not in out.stderr
    # a Deployment whose template breaks "enforce" is admitted with a warning
    out = kubectl("create", "deployment", "privdep", "-n", "secure", "--image=busybox", "--dry-run=client", "-o", "json")
    dep = json.loads(out.stdout)
    dep["spec"]["template"]["spec"]["hostPID"] = True
    created = kubectl("create", "-f", "-", input=json.dumps(dep))
    assert 'would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)' in created.stderr


def test_service_account_credentials_are_mounted(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "accounts"}})
    plain = core.create_namespaced_pod("accounts", _pod("before-sa"))
    assert not plain.spec.volumes  # no account yet: admitted without credentials
    core.create_namespaced_service_account("accounts", {"metadata": {"name": "default"}})
    pod = core.create_namespaced_pod("accounts", _pod("with-sa"))
    volume = pod.spec.volumes[0]
    assert volume.name.startswith("kube-api-access-")
    assert volume.projected.sources[0].service_account_token.path == "token"
    mount = pod.spec.containers[0].volume_mounts[0]
    assert mount.mount_path == "/var/run/secrets/kubernetes.io/serviceaccount" and mount.read_only
    off = _pod("opted-out")
    off["spec"]["automountServiceAccountToken"] = False
    assert not core.create_namespaced_pod("accounts", off).spec.volumes
