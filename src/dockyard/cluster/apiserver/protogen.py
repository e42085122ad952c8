"""Regenerate ``protobuf-fields.json`` from Kubernetes' ``generated.proto`` files.

kubectl's typed clients (``kubectl create configmap|secret|deployment…``,
``auth can-i``, ``create token``) send request bodies in Kubernetes'
protobuf encoding. Decoding needs only each message's field numbers, names
and types, which the ``generated.proto`` files of k8s.io/api and
k8s.io/apimachinery state; this script reduces them to one JSON table that
``protobuf.py`` reads. It is run by hand when the served API version moves:

    python -m dockyard.cluster.apiserver.protogen API_REPO_DIR APIMACHINERY_REPO_DIR

(directories holding checkouts of github.com/kubernetes/api and
github.com/kubernetes/apimachinery). Field numbers never change once
published, so a newer checkout only adds fields.
"""

from __future__ import annotations

import json
import os
import re
import sys

from dockyard.cluster.apiserver import schemas

# (directory in the repo, proto package) for every group dockyard serves or
# that kubectl sends typed requests for
API_PACKAGES = [
    "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "networking/v1",
    "policy/v1", "rbac/v1", "storage/v1", "coordination/v1", "discovery/v1",
    "authorization/v1", "authentication/v1", "events/v1",
]
MACHINERY = ["pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr", "pkg/api/resource"]

_PACKAGE = re.compile(r"^package\s+([\w.]+);", re.M)
_MESSAGE = re.compile(r"^message\s+(\w+)\s*\{(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;", re.M)
_MAP = re.compile(r"^\s*map<\s*(\w+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;", re.M)


def _qualify(typ: str, package: str) -> str:
    if typ.startswith("."):
        return typ[1:]
    if typ in ("string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float",
               "sint32", "sint64", "fixed32", "fixed64"):
        return typ
    return f"{package}.{typ}"


def parse(text: str) -> dict[str, list[list[object]]]:
    package = _PACKAGE.search(text)
    assert package, "no package line"
    pkg = package.group(1)
    out: dict[str, list[list[object]]] = {}
    body_text = re.sub(r"//[^\n]*", "", text)
    for m in _MESSAGE.finditer(body_text):
        fields: list[list[object]] = []
        for f in _FIELD.finditer(m.group(2)):
            fields.append([int(f.group(4)), f.group(3), _qualify(f.group(2), pkg), f.group(1)])
        for f in _MAP.finditer(m.group(2)):
            fields.append([int(f.group(4)), f.group(3), _qualify(f.group(2), pkg), "map"])
        out[f"{pkg}.{m.group(1)}"] = sorted(fields)
    return out


def align_with_json(table: dict[str, list[list[object]]]) -> None:
    """Proto field names are Go-derived and differ from the JSON names in two
    ways, found by comparing with the JSON schemas: embedded structs that
    JSON inlines (``Volume.volumeSource``, ``Probe.handler``,
    ``IngressRule.ingressRuleValue``…: labelled ``inline``) and a few
    capitalised names (``uID`` for ``uid``, ``aPIGroup``: renamed)."""
    defs = schemas.definitions()
    for message, fields in table.items():
        props = defs.get("io.k8s." + message[len("k8s.io."):], {}).get("properties")
        if not props:
            continue
        lower = {p.lower(): p for p in props}
        for field in fields:
            name, typ = str(field[1]), str(field[2])
            if name in props:
                continue
            if name.lower() in lower:
                field[1] = lower[name.lower()]
            elif "." in typ and field[3] == "optional":
                # inline structs have no definition of their own in the JSON
                # schemas: their fields are the parent's
                target = [str(f[1]) for f in table.get(typ, [])]
                # (most, not all: the .proto files may be newer than the schemas)
                known = sum(1 for k in target if k in props or k.lower() in lower)
                if target and known >= 0.8 * len(target):
                    field[3] = "inline"


def main(api_dir: str, machinery_dir: str) -> None:
    table: dict[str, list[list[object]]] = {}
    for sub in API_PACKAGES:
        with open(os.path.join(api_dir, sub, "generated.proto")) as f:
            table.update(parse(f.read()))
    for sub in MACHINERY:
        with open(os.path.join(machinery_dir, sub, "generated.proto")) as f:
            table.update(parse(f.read()))
    align_with_json(table)
    target = os.path.join(os.path.dirname(__file__), "protobuf-fields.json")
    with open(target, "w") as f:
        json.dump(table, f, separators=(",", ":"), sort_keys=True)
    print(f"{target}: {len(table)} messages")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
