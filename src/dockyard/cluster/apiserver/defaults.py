"""Defaulting of the common fields, as kube-apiserver's ``SetDefaults_*`` do.

Only what is cheap and what clients look at: pod spec defaults (restart
policy, DNS policy, grace period, image pull policy…), Deployment strategy
and replicas, Service type/ports/session affinity (the cluster IP itself is
allocated by ``storage.py``, which owns the store), Namespace finalizers and
phase, Secret ``stringData`` folding, Job defaults.
"""

from __future__ import annotations

import base64
from typing import Any


def _pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    for field in ("containers", "initContainers"):
        for c in spec.get(field) or []:
            image = c.get("image", "")
            tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
            latest = not tagged or image.endswith(":latest")
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            resources = c.setdefault("resources", {})
            # a limit without a request requests the limit (Kubernetes' pod defaulting)
            for resource, value in (resources.get("limits") or {}).items():
                resources.setdefault("requests", {}).setdefault(resource, value)
            for port in c.get("ports") or []:
                port.setdefault("protocol", "TCP")


def _template(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template.get("spec"), dict):
            _pod_spec(template["spec"])


def apply_defaults(group: str, kind: str, obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if group == "" and kind == "Pod" and isinstance(spec, dict):
        _pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("priority", 0)
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
        ])
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", _qos(spec))
    elif group == "" and kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("ipFamilies", ["IPv4"])
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):  # protobuf's zero IntOrString is "unset"
                port["targetPort"] = port.get("port")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif group == "" and kind == "Namespace":
        spec = obj.setdefault("spec", {})
        spec.setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        meta = obj.setdefault("metadata", {})
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
    elif group == "" and kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif group == "" and kind in ("PersistentVolumeClaim", "PersistentVolume"):
        if isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")
            if kind == "PersistentVolume":
                spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif group == "apps" and isinstance(spec, dict):
        if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
            spec.setdefault("replicas", 1)
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
        if kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                               "rollingUpdate": {"partition": 0}})
            spec.setdefault("persistentVolumeClaimRetentionPolicy",
                            {"whenDeleted": "Retain", "whenScaled": "Retain"})
        if kind == "DaemonSet":
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {
                "maxUnavailable": 1, "maxSurge": 0}})
        _template(spec)
    elif group == "apiextensions.k8s.io" and kind == "CustomResourceDefinition":
        if isinstance(spec, dict):
            spec.setdefault("scope", "Namespaced")
            names = spec.setdefault("names", {})
            names.setdefault("singular", str(names.get("kind", "")).lower())
            names.setdefault("listKind", f"{names.get('kind', '')}List")
            spec.setdefault("conversion", {"strategy": "None"})
        if not obj.get("status"):
            obj["status"] = crd_status(obj)
    elif group == "batch" and isinstance(spec, dict):
        if kind == "Job":
            spec.setdefault("backoffLimit", 6)
            spec.setdefault("completionMode", "NonIndexed")
            spec.setdefault("suspend", False)
            spec.setdefault("parallelism", 1)
            spec.setdefault("completions", 1)
            _template(spec)
        elif kind == "CronJob":
            spec.setdefault("concurrencyPolicy", "Allow")
            spec.setdefault("suspend", False)
            spec.setdefault("successfulJobsHistoryLimit", 3)
            spec.setdefault("failedJobsHistoryLimit", 1)
            job_spec = (spec.get("jobTemplate") or {}).get("spec")
            if isinstance(job_spec, dict):
                _template(job_spec)


def crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    names = (crd.get("spec") or {}).get("names") or {}
    stamp = (crd.get("metadata") or {}).get("creationTimestamp")
    accepted = {k: names[k] for k in ("plural", "singular", "kind", "listKind", "shortNames", "categories") if k in names}
    accepted.setdefault("singular", str(names.get("kind", "")).lower())
    accepted.setdefault("listKind", f"{names.get('kind', '')}List")
    storage = [v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")]
    return {
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": stamp},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": stamp},
        ],
        "storedVersions": storage,
    }


def _qos(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    requests = [((c.get("resources") or {}).get("requests") or {}) for c in containers]
    limits = [((c.get("resources") or {}).get("limits") or {}) for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    if all(lim.get("cpu") and lim.get("memory") for lim in limits) and all(
        (not r or (r.get("cpu") == lim.get("cpu") and r.get("memory") == lim.get("memory")))
        for r, lim in zip(requests, limits, strict=True)
    ):
        return "Guaranteed"
    return "Burstable"
