"""OpenAPI documents built from kubernetes-validate's schemas.

- ``/openapi/v3``: the index (``paths`` → ``serverRelativeURL`` with a
  content hash), ``/openapi/v3/<api/v1|apis/g/v>``: one document per
  group-version with its paths and ``components.schemas``. kubectl 1.32
  reads these for ``explain``, for strategic-merge-patch metadata in
  ``apply``, and to learn that PATCH takes ``fieldValidation`` (server-side
  validation) — hence every operation carries
  ``x-kubernetes-group-version-kind`` and its query parameters.
- ``/openapi/v2``: one Swagger 2.0 document (JSON only; kubectl asks v2
  in protobuf, gets 406, and stays on v3).

kubernetes-validate's JSON Schema dialect is converted on the way out:
``$ref`` to ``#/components/schemas/…`` (wrapped in ``allOf`` when it has
siblings, as kube-openapi does), ``["string", "null"]`` to ``"string"``,
IntOrString to ``type: string, format: int-or-string``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import schemas
from .resources import ResourceTable, ResourceType

Obj = dict[str, Any]
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_CREATE_ONLY = {"token": "io.k8s.api.authentication.v1.TokenRequest",
                "binding": "io.k8s.api.core.v1.Binding", "eviction": "io.k8s.api.policy.v1.Eviction"}
COMMON = (_META + "Status", _META + "DeleteOptions", _META + "APIResourceList",
          "io.k8s.api.autoscaling.v1.Scale", *_CREATE_ONLY.values())
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


def _convert(node: Any, ref_base: str) -> Any:
    if isinstance(node, list):
        return [_convert(v, ref_base) for v in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for key, value in node.items():
        if key in ("$schema", "$id"):
            continue
        if key == "$ref":
            out[key] = ref_base + schemas.ref_name(value)
        elif key == "type" and isinstance(value, list):
            kept = [t for t in value if t != "null"]
            out[key] = kept[0] if len(kept) == 1 else kept
        elif key in ("properties", "patternProperties", "$defs"):
            out[key] = {k: _convert(v, ref_base) for k, v in value.items()}
        else:
            out[key] = _convert(value, ref_base)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


def _definition(name: str, ref_base: str) -> Obj:
    if name == INT_OR_STRING:
        return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True,
                "description": "IntOrString is a type that can hold an int32 or a string."}
    return _convert(schemas.definition(name), ref_base)  # type: ignore[no-any-return]


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = schemas.ref_name(ref)
            if name not in found:
                found.add(name)
                _refs(schemas.definition(name), found)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def closure(names: list[str]) -> set[str]:
    found = set(names)
    for name in names:
        _refs(schemas.definition(name), found)
    return found


def custom_name(r: ResourceType) -> str:
    """kube-apiserver's name for a CR schema: reversed group, version, kind."""
    return ".".join(reversed(r.group.split("."))) + f".{r.version}.{r.kind}"


def _custom_schema(r: ResourceType, ref_base: str) -> Obj:
    schema: Obj = json.loads(json.dumps(r.crd_schema or {}))
    props = schema.setdefault("properties", {})
    props["metadata"] = {"$ref": ref_base + _META + "ObjectMeta"}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = [{"group": r.group, "version": r.version, "kind": r.kind}]
    return schema


def _schema_name(r: ResourceType) -> str:
    return custom_name(r) if r.is_custom else r.definition


def _params(*names: str) -> list[Obj]:
    return [{"name": n, "in": "query", "schema": {"type": "boolean" if n == "force" else "string"},
             "description": n} for n in names]


def _op(r: ResourceType, action: str, op_id: str, schema_ref: str, params: list[Obj],
        body: bool = False, list_kind: bool = False) -> Obj:
    op: Obj = {
        "operationId": op_id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {
            "schema": {"type": "object"} if list_kind else {"$ref": schema_ref}}}}},
    }
    if body:
        op["requestBody"] = {"content": {"*/*": {"schema": {"$ref": schema_ref}}}}
    return op


def _paths(r: ResourceType, ref_base: str) -> Obj:
    prefix = "/api/v1" if not r.group else f"/apis/{r.group}/{r.version}"
    ref = ref_base + _schema_name(r)
    op_base = r.kind
    writes = ("dryRun", "fieldManager", "fieldValidation")
    collection = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
    item = f"{collection}/{{name}}"
    if r.virtual:
        # kubectl decides whether the server validates fields by looking for
        # a PATCH operation of the kind that takes fieldValidation; without
        # one it falls back to /openapi/v2 in protobuf. Reviews cannot be
        # patched (405), but they do take fieldValidation on create.
        return {collection: {"post": _op(r, "post", f"create{op_base}", ref, _params(*writes), body=True)},
                item: {"patch": _op(r, "patch", f"patch{op_base}", ref, _params(*writes), body=True)}}
    paths: Obj = {
        collection: {
            "get": _op(r, "list", f"list{op_base}", ref, _params("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"), list_kind=True),
            "post": _op(r, "post", f"create{op_base}", ref, _params(*writes), body=True),
            "delete": _op(r, "deletecollection", f"deleteCollection{op_base}", ref, _params("dryRun", "labelSelector", "fieldSelector")),
        },
        item: {
            "get": _op(r, "get", f"read{op_base}", ref, []),
            "put": _op(r, "put", f"replace{op_base}", ref, _params(*writes), body=True),
            "patch": _op(r, "patch", f"patch{op_base}", ref, _params(*writes, "force"), body=True),
            "delete": _op(r, "delete", f"delete{op_base}", ref, _params("dryRun", "gracePeriodSeconds", "propagationPolicy")),
        },
    }
    if r.namespaced:
        paths[f"{prefix}/{r.plural}"] = {"get": _op(r, "list", f"list{op_base}ForAllNamespaces", ref, _params("labelSelector", "fieldSelector"), list_kind=True)}
    for sub in r.subresources:
        if sub in _CREATE_ONLY:
            sub_ref = ref_base + _CREATE_ONLY[sub]
            paths[f"{item}/{sub}"] = {"post": _op(r, "post", f"create{op_base}{sub.title()}", sub_ref, _params(*writes), body=True)}
            continue
        sub_ref = ref_base + "io.k8s.api.autoscaling.v1.Scale" if sub == "scale" else ref
        paths[f"{item}/{sub}"] = {
            "get": _op(r, "get", f"read{op_base}{sub.title()}", sub_ref, []),
            "put": _op(r, "put", f"replace{op_base}{sub.title()}", sub_ref, _params(*writes), body=True),
            "patch": _op(r, "patch", f"patch{op_base}{sub.title()}", sub_ref, _params(*writes, "force"), body=True),
        }
    return paths


class OpenAPI:
    """Builds and caches the documents; ``invalidate`` when CRDs change."""

    def __init__(self, table: ResourceTable) -> None:
        self.table = table
        self._v3: dict[str, bytes] = {}
        self._v2: bytes | None = None

    def invalidate(self) -> None:
        self._v3.clear()
        self._v2 = None

    @staticmethod
    def gv_path(group: str, version: str) -> str:
        return f"apis/{group}/{version}" if group else "api/v1"

    def v3_document(self, gv_path: str) -> bytes | None:
        if gv_path not in self._v3:
            rows = [r for r in self.table.rows() if self.gv_path(r.group, r.version) == gv_path]
            if not rows:
                return None
            base = "#/components/schemas/"
            names = closure([r.definition for r in rows if not r.is_custom] + list(COMMON))
            components = {n: _definition(n, base) for n in sorted(names)}
            for r in rows:
                if r.is_custom:
                    components[custom_name(r)] = _convert(_custom_schema(r, base), base)
            paths: Obj = {}
            for r in rows:
                paths.update(_paths(r, base))
            doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{schemas.KUBE_VERSION}"},
                   "paths": paths, "components": {"schemas": components}}
            self._v3[gv_path] = json.dumps(doc, separators=(",", ":")).encode()
        return self._v3[gv_path]

    def v3_index(self) -> Obj:
        paths: Obj = {}
        for group, versions in self.table.group_versions().items():
            for version in versions:
                gv = self.gv_path(group, version)
                doc = self.v3_document(gv) or b""
                digest = hashlib.sha512(doc).hexdigest()[:64].upper()
                paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
        return {"paths": paths}

    def v2_document(self) -> bytes:
        if self._v2 is None:
            base = "#/definitions/"
            rows = self.table.rows()
            names = closure([r.definition for r in rows if not r.is_custom] + list(COMMON))
            definitions = {n: _definition(n, base) for n in sorted(names)}
            for r in rows:
                if r.is_custom:
                    definitions[custom_name(r)] = _convert(_custom_schema(r, base), base)
            paths: Obj = {}
            for r in rows:
                for path, ops in _paths(r, base).items():
                    paths[path] = {m: {k: v for k, v in op.items() if k not in ("requestBody", "responses")}
                                   | {"responses": {"200": {"description": "OK"}}} for m, op in ops.items()}
            doc = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": f"v{schemas.KUBE_VERSION}"},
                   "paths": paths, "definitions": definitions}
            self._v2 = json.dumps(doc, separators=(",", ":")).encode()
        return self._v2
