"""CustomResourceDefinitions: custom resources served as they are defined.

A CRD (``apiextensions.k8s.io/v1``) is validated when written (names,
group, one storage version, a structural schema), gets its ``status``
(accepted names, ``NamesAccepted``/``Established`` conditions) at once, and
adds one ``ResourceType`` per served version to the table; discovery and
OpenAPI follow. Custom resources are stored under
``/registry/<group>/<plural>/`` like any type, pruned and validated against
the version's ``openAPIV3Schema`` (jsonschema, Draft 4 as OpenAPI 3.0 is),
defaulted from its ``default`` values, and get the ``status`` and ``scale``
subresources when the CRD asks for them. Deleting a
CRD removes its custom resources, as the CRD finalizer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema

from dockyard.cluster.store import StoreError

from .errors import cause
from .resources import ResourceTable, ResourceType
from .storage import Storage, decode

Obj = dict[str, Any]
CRD_GROUP = "apiextensions.k8s.io"


def types_of_crd(crd: Obj) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    rows = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True}
        subresources = tuple(s for s in ("status", "scale") if s in (version.get("subresources") or {}))
        columns = tuple(
            (c.get("name", ""), c.get("type", "string"), c.get("jsonPath", ""), int(c.get("priority", 0)))
            for c in version.get("additionalPrinterColumns") or []
        )
        scale = (version.get("subresources") or {}).get("scale") or {}
        scale_paths = (scale.get("specReplicasPath", ".spec.replicas"),
                       scale.get("statusReplicasPath", ".status.replicas"),
                       scale.get("labelSelectorPath", ""))
        rows.append(ResourceType(
            group=spec.get("group", ""),
            version=version.get("name", ""),
            kind=names.get("kind", ""),
            plural=names.get("plural", ""),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=subresources,
            crd_schema=schema,
            printer_columns=columns,
            scale_paths=scale_paths,
        ))
    return rows


def _openapi_to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if node.get("x-kubernetes-preserve-unknown-fields") or "properties" not in node:
        return out
    return out


def _field(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def apply_schema_defaults(obj: Any, node: Obj) -> None:
    """Structural-schema defaulting: a missing property with a ``default``
    gets it, inside every object present (apiextensions' defaulting)."""
    if isinstance(obj, dict):
        for key, sub in (node.get("properties") or {}).items():
            if key not in obj and "default" in sub:
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                apply_schema_defaults(obj[key], sub)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in obj.items():
                if key not in (node.get("properties") or {}):
                    apply_schema_defaults(value, extra)
    elif isinstance(obj, list) and isinstance(node.get("items"), dict):
        for item in obj:
            apply_schema_defaults(item, node["items"])


def validate_custom(rtype: ResourceType, obj: Obj) -> list[dict[str, str]]:
    """Default a custom resource from its schema, then validate it (the
    causes of a 422; empty when valid)."""
    apply_schema_defaults(obj, rtype.crd_schema or {})
    schema = _openapi_to_jsonschema(copy.deepcopy(rtype.crd_schema or {}))
    (schema.get("properties") or {}).pop("metadata", None)
    validator = jsonschema.Draft4Validator(schema)
    errs = []
    for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = _field(err.absolute_path)
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else ""
            errs.append(cause(f"{where}.{missing}" if where else missing, "Required value", "FieldValueRequired"))
        elif err.validator == "enum":
            allowed = ", ".join(json.dumps(v) for v in err.validator_value)
            errs.append(cause(where, f"Unsupported value: {json.dumps(err.instance)}: supported values: {allowed}", "FieldValueNotSupported"))
        else:
            errs.append(cause(where, f"Invalid value: {json.dumps(err.instance)[:80]}: {where} in body {err.message}"))
    return errs


class CRDRegistry:
    """Keeps the resource table in step with the stored CRDs."""

    def __init__(self, table: ResourceTable, storage: Storage, on_change: Callable[[], None]) -> None:
        self.table = table
        self.storage = storage
        self.on_change = on_change
        self._tasks: set[asyncio.Task[None]] = set()
        # CRD name -> the newest revision applied to the table, so a late
        # watch event never brings back an older state
        self._applied: dict[str, int] = {}
        self._follower: asyncio.Task[None] | None = None
        storage.after_write.append(self._written)

    async def load(self) -> None:
        """Register the stored CRDs, then follow the store: CRDs written
        through another API server on the same etcd appear here too."""
        rtype = self._crd_type()
        listed = await self.storage.list(rtype, "")
        for crd in listed["items"]:
            self._apply(crd, deleted=False)
        self.on_change()
        revision = int(listed["metadata"]["resourceVersion"])
        self._follower = asyncio.create_task(self._follow(rtype, revision + 1))

    async def stop(self) -> None:
        for task in [self._follower, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _follow(self, rtype: ResourceType, start: int) -> None:
        while True:
            try:
                async for batch in self.storage.store.watch(rtype.key_prefix(), start):
                    for event in batch:
                        start = event.kv.mod_revision + 1
                        self._apply(decode(event.kv, rtype), deleted=event.type == "DELETE")
                    self.on_change()
            except StoreError:
                await asyncio.sleep(1)

    def _apply(self, crd: Obj, deleted: bool) -> None:
        meta = crd.get("metadata") or {}
        revision = int(meta.get("resourceVersion") or 0)
        name = meta.get("name", "")
        applied = self._applied.get(name, 0)
        # a PUT must be newer than what the table shows; a deletion (whose
        # object carries the last revision, or the deletion's) at least as new
        if revision < applied or (revision == applied and not deleted):
            return
        self._applied[name] = revision
        if deleted:
            spec = crd.get("spec") or {}
            self.table.remove(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        else:
            self._register(crd)

    def _crd_type(self) -> ResourceType:
        rtype = self.table.lookup(CRD_GROUP, "v1", "customresourcedefinitions")
        assert rtype is not None
        return rtype

    def _register(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        self.table.remove(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        if crd.get("metadata", {}).get("deletionTimestamp"):
            return
        for row in types_of_crd(crd):
            self.table.add(row)

    def _written(self, rtype: ResourceType, event: str, obj: Obj) -> None:
        if rtype.group != CRD_GROUP or rtype.kind != "CustomResourceDefinition":
            return
        spec = obj.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        if event == "DELETED":
            rows = [r for r in self.table.rows() if r.group == group and r.plural == plural]
            self._apply(obj, deleted=True)
            if rows:
                task = asyncio.get_running_loop().create_task(self._purge(rows[0]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        else:
            self._apply(obj, deleted=False)
        self.on_change()

    async def _purge(self, rtype: ResourceType) -> None:
        prefix = rtype.key_prefix()
        listed = await self.storage.store.list(prefix)
        for kv in listed.items:
            try:
                await self.storage.store.delete(kv.key)
            except Exception:
                continue
