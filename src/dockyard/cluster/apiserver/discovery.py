"""Discovery documents, all derived from the resource table.

- ``/api`` (APIVersions) and ``/apis`` (APIGroupList): the legacy shape.
- ``/api/v1``, ``/apis/<group>/<version>`` (APIResourceList).
- Aggregated discovery (``apidiscovery.k8s.io/v2`` APIGroupDiscoveryList),
  what kubectl 1.32 asks for first on ``/api`` and ``/apis``: every group,
  version, resource and subresource in one answer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import SUBRESOURCE_KINDS, ResourceTable, ResourceType

Obj = dict[str, Any]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SUB_VERBS = ["get", "patch", "update"]


def wants_aggregated(accept: str) -> bool:
    return any(
        "as=APIGroupDiscoveryList" in part and "v=v2" in part
        for part in accept.split(",")
    )


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(group: str, versions: list[str]) -> Obj:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(table: ResourceTable) -> Obj:
    groups = [_group(g, vs) for g, vs in table.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(table: ResourceTable, group: str) -> Obj | None:
    versions = table.group_versions().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def _hash(r: ResourceType) -> str:
    return hashlib.sha256(f"{r.group}/{r.version}/{r.kind}".encode()).hexdigest()[:12]


def resource_list(table: ResourceTable, group: str, version: str) -> Obj | None:
    rows = table.in_group_version(group, version)
    if not rows:
        return None
    resources: list[Obj] = []
    for r in rows:
        entry: Obj = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": list(r.verbs), "storageVersionHash": _hash(r)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for sub in r.subresources:
            item: Obj = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                         "kind": r.kind, "verbs": SUB_VERBS}
            if sub in SUBRESOURCE_KINDS:
                g, v, kind, verbs = SUBRESOURCE_KINDS[sub]
                item.update(group=g, version=v, kind=kind, verbs=list(verbs))
            resources.append(item)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _discovery_resource(r: ResourceType) -> Obj:
    entry: Obj = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = []
    for sub in r.subresources:
        if sub in SUBRESOURCE_KINDS:
            g, v, kind, verbs = SUBRESOURCE_KINDS[sub]
            response = {"group": g, "version": v, "kind": kind}
        else:
            response, verbs = {"group": r.group, "version": r.version, "kind": r.kind}, tuple(SUB_VERBS)
        subs.append({"subresource": sub, "responseKind": response, "verbs": list(verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(table: ResourceTable, core: bool) -> Obj:
    items = []
    for group, versions in table.group_versions().items():
        if (group == "") != core:
            continue
        items.append({
            "metadata": {"name": group, "creationTimestamp": None},
            "versions": [
                {"version": v, "freshness": "Current",
                 "resources": [_discovery_resource(r) for r in table.in_group_version(group, v)]}
                for v in versions
            ],
        })
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}
