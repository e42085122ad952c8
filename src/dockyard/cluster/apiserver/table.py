"""``meta.k8s.io/v1`` Table output: the columns ``kubectl get`` prints.

kubectl asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``
and prints the server's columns as they come (priority-1 columns only with
``-o wide``). The columns here follow kube-apiserver's printers for the
types people look at most; every other type gets NAME and AGE, and custom
resources get their CRD's ``additionalPrinterColumns``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def _age_of(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    try:
        t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.UTC) - t).total_seconds())


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(part)
    return default if obj is None else obj


def _age(o: Obj) -> str:
    return _age_of(_get(o, "metadata", "creationTimestamp"))


def _name(o: Obj) -> str:
    return str(_get(o, "metadata", "name", default=""))


def _pod_status(o: Obj) -> str:
    if _get(o, "metadata", "deletionTimestamp"):
        return "Terminating"
    for cs in _get(o, "status", "containerStatuses", default=[]):
        waiting = _get(cs, "state", "waiting", "reason")
        if waiting:
            return str(waiting)
        term = _get(cs, "state", "terminated", "reason")
        if term:
            return str(term)
    return str(_get(o, "status", "reason") or _get(o, "status", "phase", default="Pending"))


def _pod_ready(o: Obj) -> str:
    statuses = _get(o, "status", "containerStatuses", default=[])
    ready = sum(1 for c in statuses if c.get("ready"))
    return f"{ready}/{len(_get(o, 'spec', 'containers', default=[]))}"


def _restarts(o: Obj) -> int:
    return sum(int(c.get("restartCount", 0)) for c in _get(o, "status", "containerStatuses", default=[]))


def _ports(o: Obj) -> str:
    ports = _get(o, "spec", "ports", default=[])
    if not ports:
        return "<none>"
    out = []
    for p in ports:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        out.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(out)


def _selector(sel: Any) -> str:
    if not sel:
        return "<none>"
    if isinstance(sel, dict) and ("matchLabels" in sel or "matchExpressions" in sel):
        parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
        for e in sel.get("matchExpressions") or []:
            parts.append(f"{e.get('key')} {e.get('operator', '').lower()} ({','.join(e.get('values') or [])})")
        return ",".join(parts) or "<none>"
    return ",".join(f"{k}={v}" for k, v in sel.items())


def _containers(o: Obj) -> str:
    return ",".join(c.get("name", "") for c in _get(o, "spec", "template", "spec", "containers", default=[]))


def _images(o: Obj) -> str:
    return ",".join(c.get("image", "") for c in _get(o, "spec", "template", "spec", "containers", default=[]))


def _node_status(o: Obj) -> str:
    ready = "Unknown"
    for c in _get(o, "status", "conditions", default=[]):
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    if _get(o, "spec", "unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _node_roles(o: Obj) -> str:
    roles = [k.split("/", 1)[1] for k in _get(o, "metadata", "labels", default={})
             if k.startswith("node-role.kubernetes.io/")]
    return ",".join(sorted(roles)) or "<none>"


def _job_status(o: Obj) -> str:
    for c in _get(o, "status", "conditions", default=[]):
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed", "Suspended"):
            return str(c["type"])
    return "Running"


NAME: Column = ("Name", "string", 0, _name)
AGE: Column = ("Age", "string", 0, _age)

COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "Pod"): [
        NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, lambda o: str(_restarts(o))),
        AGE,
        ("IP", "string", 1, lambda o: _get(o, "status", "podIP", default="<none>")),
        ("Node", "string", 1, lambda o: _get(o, "spec", "nodeName", default="<none>")),
        ("Nominated Node", "string", 1, lambda o: _get(o, "status", "nominatedNodeName", default="<none>")),
        ("Readiness Gates", "string", 1, lambda o: "<none>"),
    ],
    ("", "Namespace"): [NAME, ("Status", "string", 0, lambda o: _get(o, "status", "phase", default="")), AGE],
    ("", "Service"): [
        NAME,
        ("Type", "string", 0, lambda o: _get(o, "spec", "type", default="")),
        ("Cluster-IP", "string", 0, lambda o: _get(o, "spec", "clusterIP", default="<none>")),
        ("External-IP", "string", 0, lambda o: ",".join(_get(o, "spec", "externalIPs", default=[])) or (
            _get(o, "spec", "externalName") or "<none>")),
        ("Port(s)", "string", 0, _ports),
        AGE,
        ("Selector", "string", 1, lambda o: _selector(_get(o, "spec", "selector"))),
    ],
    ("", "ConfigMap"): [NAME, ("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})), AGE],
    ("", "Secret"): [NAME, ("Type", "string", 0, lambda o: o.get("type", "")),
                     ("Data", "integer", 0, lambda o: len(o.get("data") or {})), AGE],
    ("", "ServiceAccount"): [NAME, ("Secrets", "integer", 0, lambda o: len(o.get("secrets") or [])), AGE],
    ("", "Endpoints"): [NAME, ("Endpoints", "string", 0, lambda o: ",".join(
        f"{a.get('ip')}:{p.get('port')}" for s in (o.get("subsets") or [])
        for a in (s.get("addresses") or []) for p in (s.get("ports") or [])) or "<none>"), AGE],
    ("", "Node"): [
        NAME, ("Status", "string", 0, _node_status), ("Roles", "string", 0, _node_roles), AGE,
        ("Version", "string", 0, lambda o: _get(o, "status", "nodeInfo", "kubeletVersion", default="")),
        ("Internal-IP", "string", 1, lambda o: next((a["address"] for a in _get(o, "status", "addresses", default=[]) if a.get("type") == "InternalIP"), "<none>")),
        ("OS-Image", "string", 1, lambda o: _get(o, "status", "nodeInfo", "osImage", default="")),
        ("Kernel-Version", "string", 1, lambda o: _get(o, "status", "nodeInfo", "kernelVersion", default="")),
        ("Container-Runtime", "string", 1, lambda o: _get(o, "status", "nodeInfo", "containerRuntimeVersion", default="")),
    ],
    ("", "Event"): [
        ("Last Seen", "string", 0, lambda o: _age_of(o.get("lastTimestamp") or o.get("eventTime") or _get(o, "metadata", "creationTimestamp"))),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        ("Object", "string", 0, lambda o: f"{_get(o, 'involvedObject', 'kind', default='').lower()}/{_get(o, 'involvedObject', 'name', default='')}"),
        ("Message", "string", 0, lambda o: o.get("message", "")),
    ],
    ("", "PersistentVolumeClaim"): [NAME, ("Status", "string", 0, lambda o: _get(o, "status", "phase", default="")),
                                    ("Volume", "string", 0, lambda o: _get(o, "spec", "volumeName", default="")), AGE],
    ("", "PersistentVolume"): [NAME, ("Capacity", "string", 0, lambda o: _get(o, "spec", "capacity", "storage", default="")),
                               ("Status", "string", 0, lambda o: _get(o, "status", "phase", default="")), AGE],
    ("apps", "Deployment"): [
        NAME,
        ("Ready", "string", 0, lambda o: f"{_get(o, 'status', 'readyReplicas', default=0)}/{_get(o, 'spec', 'replicas', default=0)}"),
        ("Up-to-date", "integer", 0, lambda o: _get(o, "status", "updatedReplicas", default=0)),
        ("Available", "integer", 0, lambda o: _get(o, "status", "availableReplicas", default=0)),
        AGE,
        ("Containers", "string", 1, _containers),
        ("Images", "string", 1, _images),
        ("Selector", "string", 1, lambda o: _selector(_get(o, "spec", "selector"))),
    ],
    ("apps", "ReplicaSet"): [
        NAME,
        ("Desired", "integer", 0, lambda o: _get(o, "spec", "replicas", default=0)),
        ("Current", "integer", 0, lambda o: _get(o, "status", "replicas", default=0)),
        ("Ready", "integer", 0, lambda o: _get(o, "status", "readyReplicas", default=0)),
        AGE,
        ("Containers", "string", 1, _containers),
        ("Images", "string", 1, _images),
        ("Selector", "string", 1, lambda o: _selector(_get(o, "spec", "selector"))),
    ],
    ("apps", "StatefulSet"): [
        NAME,
        ("Ready", "string", 0, lambda o: f"{_get(o, 'status', 'readyReplicas', default=0)}/{_get(o, 'spec', 'replicas', default=0)}"),
        AGE,
        ("Containers", "string", 1, _containers),
        ("Images", "string", 1, _images),
    ],
    ("apps", "DaemonSet"): [
        NAME,
        ("Desired", "integer", 0, lambda o: _get(o, "status", "desiredNumberScheduled", default=0)),
        ("Current", "integer", 0, lambda o: _get(o, "status", "currentNumberScheduled", default=0)),
        ("Ready", "integer", 0, lambda o: _get(o, "status", "numberReady", default=0)),
        ("Up-to-date", "integer", 0, lambda o: _get(o, "status", "updatedNumberScheduled", default=0)),
        ("Available", "integer", 0, lambda o: _get(o, "status", "numberAvailable", default=0)),
        ("Node Selector", "string", 0, lambda o: _selector(_get(o, "spec", "template", "spec", "nodeSelector"))),
        AGE,
    ],
    ("batch", "Job"): [
        NAME,
        ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, lambda o: f"{_get(o, 'status', 'succeeded', default=0)}/{_get(o, 'spec', 'completions', default=1)}"),
        AGE,
    ],
    ("batch", "CronJob"): [
        NAME,
        ("Schedule", "string", 0, lambda o: _get(o, "spec", "schedule", default="")),
        ("Suspend", "boolean", 0, lambda o: bool(_get(o, "spec", "suspend", default=False))),
        ("Active", "integer", 0, lambda o: len(_get(o, "status", "active", default=[]))),
        ("Last Schedule", "string", 0, lambda o: _age_of(_get(o, "status", "lastScheduleTime")) if _get(o, "status", "lastScheduleTime") else "<none>"),
        AGE,
    ],
    ("coordination.k8s.io", "Lease"): [NAME, ("Holder", "string", 0, lambda o: _get(o, "spec", "holderIdentity", default="")), AGE],
    ("networking.k8s.io", "Ingress"): [
        NAME,
        ("Class", "string", 0, lambda o: _get(o, "spec", "ingressClassName", default="<none>")),
        ("Hosts", "string", 0, lambda o: ",".join(r.get("host", "*") for r in _get(o, "spec", "rules", default=[])) or "*"),
        ("Address", "string", 0, lambda o: ",".join(i.get("ip") or i.get("hostname", "") for i in _get(o, "status", "loadBalancer", "ingress", default=[]))),
        ("Ports", "string", 0, lambda o: "80, 443" if _get(o, "spec", "tls") else "80"),
        AGE,
    ],
    ("networking.k8s.io", "IngressClass"): [NAME, ("Controller", "string", 0, lambda o: _get(o, "spec", "controller", default="")),
                                            ("Parameters", "string", 0, lambda o: "<none>"), AGE],
    ("networking.k8s.io", "NetworkPolicy"): [NAME, ("Pod-Selector", "string", 0, lambda o: _selector(_get(o, "spec", "podSelector")) if _get(o, "spec", "podSelector") else "<none>"), AGE],
    ("policy", "PodDisruptionBudget"): [
        NAME,
        ("Min Available", "string", 0, lambda o: str(_get(o, "spec", "minAvailable", default="N/A"))),
        ("Max Unavailable", "string", 0, lambda o: str(_get(o, "spec", "maxUnavailable", default="N/A"))),
        ("Allowed Disruptions", "integer", 0, lambda o: _get(o, "status", "disruptionsAllowed", default=0)),
        AGE,
    ],
    ("autoscaling", "HorizontalPodAutoscaler"): [
        NAME,
        ("Reference", "string", 0, lambda o: f"{_get(o, 'spec', 'scaleTargetRef', 'kind', default='')}/{_get(o, 'spec', 'scaleTargetRef', 'name', default='')}"),
        ("Targets", "string", 0, lambda o: "<unknown>"),
        ("MinPods", "string", 0, lambda o: str(_get(o, "spec", "minReplicas", default=1))),
        ("MaxPods", "integer", 0, lambda o: _get(o, "spec", "maxReplicas", default=0)),
        ("Replicas", "integer", 0, lambda o: _get(o, "status", "currentReplicas", default=0)),
        AGE,
    ],
    ("storage.k8s.io", "StorageClass"): [
        NAME,
        ("Provisioner", "string", 0, lambda o: o.get("provisioner", "")),
        ("ReclaimPolicy", "string", 0, lambda o: o.get("reclaimPolicy", "Delete")),
        ("VolumeBindingMode", "string", 0, lambda o: o.get("volumeBindingMode", "Immediate")),
        ("AllowVolumeExpansion", "string", 0, lambda o: str(bool(o.get("allowVolumeExpansion"))).lower()),
        AGE,
    ],
    ("rbac.authorization.k8s.io", "RoleBinding"): [
        NAME, ("Role", "string", 0, lambda o: f"{_get(o, 'roleRef', 'kind', default='')}/{_get(o, 'roleRef', 'name', default='')}"), AGE,
        ("Users", "string", 1, lambda o: ", ".join(s.get("name", "") for s in o.get("subjects") or [] if s.get("kind") == "User")),
        ("Groups", "string", 1, lambda o: ", ".join(s.get("name", "") for s in o.get("subjects") or [] if s.get("kind") == "Group")),
        ("ServiceAccounts", "string", 1, lambda o: ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in o.get("subjects") or [] if s.get("kind") == "ServiceAccount")),
    ],
    ("rbac.authorization.k8s.io", "Role"): [NAME, ("Created At", "date", 0, lambda o: _get(o, "metadata", "creationTimestamp", default=""))],
    ("rbac.authorization.k8s.io", "ClusterRole"): [NAME, ("Created At", "date", 0, lambda o: _get(o, "metadata", "creationTimestamp", default=""))],
    ("discovery.k8s.io", "EndpointSlice"): [
        NAME,
        ("AddressType", "string", 0, lambda o: o.get("addressType", "")),
        ("Ports", "string", 0, lambda o: ",".join(str(p.get("port", "")) for p in o.get("ports") or []) or "<unset>"),
        ("Endpoints", "string", 0, lambda o: ",".join(a for e in o.get("endpoints") or [] for a in e.get("addresses") or []) or "<unset>"),
        AGE,
    ],
    ("apps", "ControllerRevision"): [NAME, ("Controller", "string", 0, lambda o: next(
        (f"{r.get('kind', '').lower()}.{r.get('apiVersion', '').split('/')[0]}/{r.get('name', '')}"
         for r in _get(o, "metadata", "ownerReferences", default=[]) if r.get("controller")), "<none>")),
        ("Revision", "integer", 0, lambda o: o.get("revision", 0)), AGE],
    ("", "ResourceQuota"): [NAME, AGE, ("Request", "string", 0, lambda o: ", ".join(
        f"{k}: {_get(o, 'status', 'used', k, default='0')}/{v}" for k, v in _get(o, "spec", "hard", default={}).items()
        if not k.startswith("limits."))), ("Limit", "string", 0, lambda o: ", ".join(
            f"{k}: {_get(o, 'status', 'used', k, default='0')}/{v}" for k, v in _get(o, "spec", "hard", default={}).items()
            if k.startswith("limits.")))],
    ("", "LimitRange"): [NAME, ("Created At", "date", 0, lambda o: _get(o, "metadata", "creationTimestamp", default=""))],
    ("apiextensions.k8s.io", "CustomResourceDefinition"): [
        NAME, ("Created At", "date", 0, lambda o: _get(o, "metadata", "creationTimestamp", default="")),
    ],
}
COLUMNS[("rbac.authorization.k8s.io", "ClusterRoleBinding")] = [
    c for c in COLUMNS[("rbac.authorization.k8s.io", "RoleBinding")]]


def _jsonpath_cell(obj: Obj, path: str) -> Any:
    """The simple ``.a.b`` JSONPath of ``additionalPrinterColumns``."""
    cur: Any = obj
    for part in path.strip().lstrip("{").rstrip("}").strip(".").split("."):
        if not part:
            continue
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _printer_cell(path: str, is_date: bool) -> Callable[[Obj], Any]:
    def cell(obj: Obj) -> Any:
        value = _jsonpath_cell(obj, path)
        return _age_of(value) if is_date else value

    return cell


def columns_for(rtype: ResourceType) -> list[Column]:
    if rtype.printer_columns:
        cols: list[Column] = [NAME]
        for name, typ, path, priority in rtype.printer_columns:
            cols.append((name, "string" if typ == "date" else typ, priority, _printer_cell(path, typ == "date")))
        return cols
    return COLUMNS.get((rtype.group, rtype.kind), [NAME, AGE])


def to_table(rtype: ResourceType, objects: list[Obj], metadata: Obj, include: str = "Metadata",
             with_definitions: bool = True) -> Obj:
    cols = columns_for(rtype)
    rows = []
    for obj in objects:
        row: Obj = {"cells": [_cell(fn, obj) for _, _, _, fn in cols]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata", {})}
        rows.append(row)
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "rows": rows}
    if with_definitions:
        table["columnDefinitions"] = [
            {"name": name, "type": typ, "format": "name" if name == "Name" else "",
             "description": "", "priority": prio}
            for name, typ, prio, _ in cols
        ]
    else:
        table["columnDefinitions"] = []
    return table


def _cell(fn: Callable[[Obj], Any], obj: Obj) -> Any:
    try:
        value = fn(obj)
    except (KeyError, TypeError, AttributeError, ValueError):
        return "<unknown>"
    return "<none>" if value is None else value
