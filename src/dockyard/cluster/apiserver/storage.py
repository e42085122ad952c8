"""Generic REST storage: Kubernetes' create/get/list/update/patch/delete
semantics for every resource, over the revisioned store.

Objects are plain dicts (the wire JSON), stored as compact JSON under
kube-apiserver's etcd keys (``resources.py``); the store's ``mod_revision``
*is* ``metadata.resourceVersion``, so it is never stored, only set on read.
Optimistic concurrency is the store's compare-and-swap on that revision.

One write goes: decode (unknown fields per ``fieldValidation``) →
server-owned metadata (uid, timestamps, generation) → defaults → validation
(422 with causes) → managedFields → size check → store. ``dryRun=All`` stops
before the store. Deletion honours finalizers (``deletionTimestamp`` first,
removal when the last finalizer goes), propagation policies (the
``orphan``/``foregroundDeletion`` finalizers the garbage collector acts on)
and graceful deletion of scheduled pods.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.cluster.store import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
    UnavailableError,
    ValueTooLargeError,
)

from . import apply as ssa
from . import defaults, ipalloc, patch, schemas, validation
from .errors import (
    AlreadyExists,
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    RequestEntityTooLarge,
    Unavailable,
    cause,
    invalid,
)
from .resources import ResourceType
from .selectors import parse_fields, parse_labels

Obj = dict[str, Any]
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's, no vowels
_CONFLICT_RETRIES = 8


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    field_manager: str = ""
    force: bool = False
    subresource: str = ""
    warnings: list[str] = field(default_factory=list)
    user: Any = None  # the requester (auth.UserInfo), for admission that depends on who asks


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def qualified(rtype: ResourceType) -> str:
    """``deployments.apps`` as kube's messages name a resource."""
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


def not_found(rtype: ResourceType, name: str) -> NotFound:
    return NotFound(f'{qualified(rtype)} "{name}" not found', name=name, group=rtype.group,
                    kind=rtype.plural)


def conflict(rtype: ResourceType, name: str) -> Conflict:
    return Conflict(
        f'Operation cannot be fulfilled on {qualified(rtype)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        name=name, group=rtype.group, kind=rtype.plural,
    )


def decode(kv: KeyValue, rtype: ResourceType | None = None) -> Obj:
    obj: Obj = json.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    if rtype is not None and rtype.is_custom:
        # CRD conversion strategy "None": every served version is the stored
        # object with its apiVersion rewritten
        obj["apiVersion"] = rtype.api_version
    return obj


_META_FIRST = b'{"metadata":{'


def encode(obj: Obj) -> bytes:
    """Stored form: compact JSON, ``metadata`` first (so a list can splice
    ``resourceVersion`` in without decoding, see ``with_rv``)."""
    meta = obj.get("metadata") or {}
    stored = {"metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    stored.update((k, v) for k, v in obj.items() if k != "metadata")
    return json.dumps(stored, separators=(",", ":")).encode()


def with_rv(kv: KeyValue) -> bytes | None:
    """The stored JSON with ``metadata.resourceVersion`` spliced in, or None
    when the value is not in ``encode``'s metadata-first form."""
    value = kv.value
    if not value.startswith(_META_FIRST) or value[len(_META_FIRST):len(_META_FIRST) + 1] == b"}":
        return None
    return b'{"metadata":{"resourceVersion":"%d",' % kv.mod_revision + value[len(_META_FIRST):]


def schema_for(rtype: ResourceType) -> schemas.Node | None:
    """The root schema of a type (CRDs: theirs, with ObjectMeta for metadata)."""
    if rtype.crd_schema is not None:
        root = dict(rtype.crd_schema)
        props = dict(root.get("properties") or {})
        props["metadata"] = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        root["properties"] = props
        root.setdefault("type", "object")
        return root
    return schemas.definition(rtype.definition) or None


def _store_errors(rtype: ResourceType, name: str, exc: Exception) -> APIError:
    if isinstance(exc, ValueTooLargeError):
        return RequestEntityTooLarge(f"Request entity too large: limit is {MAX_VALUE_BYTES}")
    if isinstance(exc, CompactedError):
        return Gone(f"too old resource version: {exc.revision} ({exc.compact_revision})")
    if isinstance(exc, UnavailableError):
        return Unavailable(f"the storage backend is unavailable: {exc}")
    if isinstance(exc, KeyNotFoundError):
        return not_found(rtype, name)
    if isinstance(exc, ConflictError):
        return conflict(rtype, name)
    return APIError(str(exc))


class Storage:
    """The REST semantics of every resource; one instance per server."""

    def __init__(self, store: Store, *, validate_custom: Callable[[ResourceType, Obj], list[dict[str, str]]] | None = None) -> None:
        self.store = store
        self.validate_custom = validate_custom
        # admission of a create (old is None) or an update, after defaulting
        # and validation: (store, type, namespace, object, old object, options)
        self.admit: Callable[[Store, ResourceType, str, Obj, Obj | None, WriteOptions], Awaitable[None]] | None = None
        # hooks run after a successful write: (rtype, event type, object)
        self.after_write: list[Callable[[ResourceType, str, Obj], Any]] = []

    # -- reads ------------------------------------------------------------

    async def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        kv = await self._get_kv(rtype, namespace, name)
        return decode(kv, rtype)

    async def _get_kv(self, rtype: ResourceType, namespace: str, name: str) -> KeyValue:
        try:
            kv = await self.store.get(rtype.key(namespace, name))
        except UnavailableError as exc:
            raise Unavailable(str(exc)) from exc
        if kv is None:
            raise not_found(rtype, name)
        return kv

    async def list(
        self,
        rtype: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> Obj:
        match = self.matcher(rtype, label_selector, field_selector)
        prefix = rtype.key_prefix(namespace)
        revision, start = 0, ""
        if continue_token:
            revision, start = _decode_continue(continue_token, prefix)
        elif resource_version and resource_version_match == "Exact":
            revision = _parse_rv(resource_version)
        items: list[Obj] = []
        more = False
        read_at = revision
        while True:
            want = (limit - len(items)) if limit else 0
            try:
                result = await self.store.list(prefix, revision=read_at, limit=want, start_key=start)
            except CompactedError as exc:
                if continue_token:
                    raise Gone(
                        "The provided continue parameter is too old to display a consistent list "
                        "result. You can start a new list without the continue parameter."
                    ) from exc
                raise _store_errors(rtype, "", exc) from exc
            except UnavailableError as exc:
                raise Unavailable(str(exc)) from exc
            read_at = result.revision
            for kv in result.items:
                obj = decode(kv, rtype)
                if match(obj):
                    items.append(obj)
            more = result.more
            if result.items:
                start = result.items[-1].key + "\x00"
            if not more or not limit or len(items) >= limit:
                break
        metadata: Obj = {"resourceVersion": str(read_at)}
        if more and limit:
            metadata["continue"] = _encode_continue(read_at, start, prefix)
        return {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": metadata,
                "items": items}

    async def list_json(
        self, rtype: ResourceType, namespace: str, *, limit: int = 0, continue_token: str = "",
        resource_version: str = "", resource_version_match: str = "",
    ) -> bytes | None:
        """An unfiltered list, encoded without decoding the items (the hot
        path of big lists); None when an item needs the slow path."""
        if rtype.is_custom:
            return None
        prefix = rtype.key_prefix(namespace)
        revision, start = 0, ""
        if continue_token:
            revision, start = _decode_continue(continue_token, prefix)
        elif resource_version and resource_version_match == "Exact":
            revision = _parse_rv(resource_version)
        try:
            result = await self.store.list(prefix, revision=revision, limit=limit, start_key=start)
        except CompactedError as exc:
            if continue_token:
                raise Gone("The provided continue parameter is too old to display a consistent "
                           "list result. You can start a new list without the continue parameter.") from exc
            raise _store_errors(rtype, "", exc) from exc
        except UnavailableError as exc:
            raise Unavailable(str(exc)) from exc
        items = []
        for kv in result.items:
            raw = with_rv(kv)
            if raw is None:
                return None
            items.append(raw)
        metadata: Obj = {"resourceVersion": str(result.revision)}
        if result.more and limit and result.items:
            metadata["continue"] = _encode_continue(result.revision, result.items[-1].key + "\x00", prefix)
        head = json.dumps({"kind": rtype.list_kind, "apiVersion": rtype.api_version,
                           "metadata": metadata}, separators=(",", ":")).encode()
        return head[:-1] + b',"items":[' + b",".join(items) + b"]}"

    def matcher(self, rtype: ResourceType, label_selector: str, field_selector: str) -> Callable[[Obj], bool]:
        by_label = parse_labels(label_selector) if label_selector else None
        by_field = parse_fields(field_selector, rtype) if field_selector else None

        def match(obj: Obj) -> bool:
            return (by_label is None or by_label(obj)) and (by_field is None or by_field(obj))

        return match

    # -- create -----------------------------------------------------------

    async def create(self, rtype: ResourceType, namespace: str, body: Any, opts: WriteOptions) -> Obj:
        obj = self._decode_body(rtype, body, opts)
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced:
            ns = meta.get("namespace") or namespace
            if namespace and ns != namespace:
                raise BadRequest("the namespace of the provided object does not match the "
                                 "namespace sent on the request")
            meta["namespace"] = ns
            await self._check_namespace(ns)
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise BadRequest("resourceVersion should not be set on objects to be created")
        generate = not meta.get("name") and meta.get("generateName")
        for attempt in range(_CONFLICT_RETRIES):
            if generate:
                suffix = "".join(random.choice(_GENERATE_ALPHABET) for _ in range(5))
                meta["name"] = (meta["generateName"][:58] + suffix)
            self._prepare_create(rtype, obj)
            if self.admit is not None:
                await self.admit(self.store, rtype, meta.get("namespace", ""), obj, None, opts)
            if rtype.kind == "Service" and rtype.group == "" and not opts.dry_run:
                await ipalloc.allocate(self.store, obj)
            ssa.track_write(None, obj, opts, rtype)
            try:
                return await self._store_create(rtype, obj, opts)
            except AlreadyExists:
                if rtype.kind == "Service" and rtype.group == "":
                    await ipalloc.release(self.store, obj)
                if not generate or attempt == _CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _prepare_create(self, rtype: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        for server_field in ("uid", "creationTimestamp", "deletionTimestamp",
                             "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(server_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rtype.has_status or rtype.is_custom:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if rtype.has_status and rtype.kind not in ("Node", "Namespace"):
            obj.pop("status", None)
        defaults.apply_defaults(rtype.group if not rtype.is_custom else "~", rtype.kind, obj)
        self._validate(rtype, obj)

    async def _store_create(self, rtype: ResourceType, obj: Obj, opts: WriteOptions) -> Obj:
        meta = obj["metadata"]
        data = self._sized(encode(obj))
        if opts.dry_run:
            return obj
        try:
            kv = await self.store.create(rtype.key(meta.get("namespace", ""), meta["name"]), data)
        except KeyExistsError:
            raise AlreadyExists(f'{qualified(rtype)} "{meta["name"]}" already exists',
                                name=meta["name"], group=rtype.group, kind=rtype.plural) from None
        except (ValueTooLargeError, UnavailableError) as exc:
            raise _store_errors(rtype, meta["name"], exc) from exc
        created = decode(kv, rtype)
        self._notify(rtype, "ADDED", created)
        return created

    def _sized(self, data: bytes) -> bytes:
        if len(data) > MAX_VALUE_BYTES:
            raise RequestEntityTooLarge(f"Request entity too large: limit is {MAX_VALUE_BYTES}")
        return data

    async def _check_namespace(self, namespace: str) -> None:
        if not namespace:
            raise BadRequest("namespace is required for namespaced resources")
        kv = await self.store.get(f"/registry/namespaces/{namespace}")
        if kv is None:
            raise NotFound(f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")
        ns = json.loads(kv.value)
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            raise Forbidden(f"unable to create new content in namespace {namespace} because it "
                            "is being terminated", name=namespace, kind="namespaces")

    # -- update -----------------------------------------------------------

    async def update(self, rtype: ResourceType, namespace: str, name: str, body: Any, opts: WriteOptions) -> Obj:
        new = self._decode_body(rtype, body, opts)
        meta = new.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if rtype.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise BadRequest("the namespace of the provided object does not match the namespace "
                             "sent on the request")
        kv = await self._get_kv(rtype, namespace, name)
        rv = meta.get("resourceVersion")
        if rv and _parse_rv(rv) != kv.mod_revision:
            raise conflict(rtype, name)
        return await self._write_update(rtype, kv, new, opts)

    async def _write_update(self, rtype: ResourceType, kv: KeyValue, new: Obj, opts: WriteOptions) -> Obj:
        old = decode(kv, rtype)
        new = self._merge_server_fields(rtype, old, new, opts.subresource)
        ssa.track_write(old, new, opts, rtype)
        if _same(old, new):
            return old
        if self.admit is not None:
            await self.admit(self.store, rtype, old["metadata"].get("namespace", ""), new, old, opts)
        data = self._sized(encode(new))
        name = old["metadata"]["name"]
        if opts.dry_run:
            return new
        finished = (bool(new["metadata"].get("deletionTimestamp")) and not new["metadata"].get("finalizers")
                    and not (rtype.kind == "Namespace" and (new.get("spec") or {}).get("finalizers")))
        try:
            if finished:
                await self.store.delete(kv.key, expected_revision=kv.mod_revision)
                self._notify(rtype, "DELETED", new)
                await self._after_delete(rtype, new)
                return new
            stored = await self.store.update(kv.key, data, expected_revision=kv.mod_revision)
        except (ConflictError, KeyNotFoundError, ValueTooLargeError, UnavailableError) as exc:
            raise _store_errors(rtype, name, exc) from exc
        updated = decode(stored, rtype)
        self._notify(rtype, "MODIFIED", updated)
        return updated

    def _merge_server_fields(self, rtype: ResourceType, old: Obj, new: Obj, subresource: str) -> Obj:
        """Keep what clients cannot change through this endpoint."""
        if subresource == "finalize":
            # the namespace controller's verb: only spec.finalizers changes
            finalizers = list((new.get("spec") or {}).get("finalizers") or [])
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["finalizers"] = finalizers
        elif subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        else:
            new = copy.deepcopy(new)
            if rtype.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for fixed in ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        meta["resourceVersion"] = old_meta.get("resourceVersion", "")
        if "generation" in old_meta and subresource not in ("status", "finalize"):
            def body(o: Obj) -> Obj:
                return {k: v for k, v in o.items() if k not in ("metadata", "status")}
            if body(old) != body(new):
                meta["generation"] = old_meta["generation"] + 1
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise invalid(rtype.kind, rtype.group, old_meta["name"], [cause(
                    "metadata.finalizers",
                    f"Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)!r}", "FieldValueForbidden")])
        defaults.apply_defaults(rtype.group if not rtype.is_custom else "~", rtype.kind, new)
        if rtype.kind == "Service" and rtype.group == "":
            ipalloc.keep_cluster_ip(old, new)
        self._validate(rtype, new, old)
        return new

    # -- patch --------------------------------------------------------------

    async def patch(
        self, rtype: ResourceType, namespace: str, name: str, patch_type: str, body: Any, opts: WriteOptions
    ) -> Obj:
        original = opts
        for _ in range(_CONFLICT_RETRIES):
            opts = original
            try:
                kv = await self._get_kv(rtype, namespace, name)
            except NotFound:
                if patch_type == patch.APPLY_PATCH and opts.subresource == "":
                    return await self._apply_create(rtype, namespace, name, body, opts)
                raise
            current = decode(kv, rtype)
            target = self._scale_of(rtype, current) if opts.subresource == "scale" else current
            opts = _replace(opts)  # apply consumes field_manager; retries need it back
            patched = self._patched(rtype, target, patch_type, body, opts)
            if opts.subresource == "scale":
                patched = self._from_scale(rtype, current, patched)
            wanted_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            patched_opts = opts if opts.subresource != "scale" else _replace(opts, subresource="")
            try:
                result = await self._write_update(
                    rtype, kv, self._decode_body(rtype, patched, patched_opts), patched_opts)
            except Conflict:
                if wanted_rv:
                    raise
                continue
            return self._scale_of(rtype, result) if opts.subresource == "scale" else result
        raise conflict(rtype, name)

    def _patched(self, rtype: ResourceType, current: Obj, patch_type: str, body: Any, opts: WriteOptions) -> Obj:
        if patch_type == patch.JSON_PATCH:
            result = patch.json_patch(current, body)
        elif patch_type == patch.MERGE_PATCH:
            result = patch.merge_patch(current, body)
        elif patch_type == patch.STRATEGIC_PATCH:
            node = None if rtype.is_custom else schema_for(rtype)
            if opts.subresource == "scale":
                node = schemas.definition("io.k8s.api.autoscaling.v1.Scale")
            result = patch.strategic_merge_patch(current, body, node)
        elif patch_type == patch.APPLY_PATCH:
            result = ssa.apply(current, body, opts, rtype, schema_for(rtype))
        else:
            raise BadRequest(f"unsupported patch type {patch_type}")
        if not isinstance(result, dict):
            raise BadRequest("the patch produced something that is not an object")
        return result

    async def _apply_create(self, rtype: ResourceType, namespace: str, name: str, body: Any, opts: WriteOptions) -> Obj:
        if not isinstance(body, dict):
            raise BadRequest("apply patch: the body must be an object")
        obj = ssa.apply(None, body, opts, rtype, schema_for(rtype))
        obj.setdefault("metadata", {})["name"] = name
        if rtype.namespaced:
            obj["metadata"]["namespace"] = namespace
        return await self.create(rtype, namespace, obj, _replace(opts, field_manager=""))

    # -- scale subresource ----------------------------------------------------

    def _scale_of(self, rtype: ResourceType, obj: Obj) -> Obj:
        spec_path, status_path, selector_path = rtype.scale_paths
        if selector_path or rtype.is_custom:
            selector = (_at(obj, selector_path) or "") if selector_path else ""
        else:
            labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            selector = ",".join(f"{k}={v}" for k, v in labels.items())
        meta = obj["metadata"]
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": _at(obj, spec_path) or 0},
            "status": {"replicas": _at(obj, status_path) or 0, "selector": selector},
        }

    def _from_scale(self, rtype: ResourceType, current: Obj, scale: Obj) -> Obj:
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid("Scale", "autoscaling", current["metadata"]["name"], [cause(
                "spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")])
        updated = copy.deepcopy(current)
        _put(updated, rtype.scale_paths[0], replicas)
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv:
            updated["metadata"]["resourceVersion"] = rv
        return updated

    async def get_scale(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        return self._scale_of(rtype, await self.get(rtype, namespace, name))

    async def update_scale(self, rtype: ResourceType, namespace: str, name: str, body: Any, opts: WriteOptions) -> Obj:
        kv = await self._get_kv(rtype, namespace, name)
        current = decode(kv, rtype)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a Scale object")
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and _parse_rv(rv) != kv.mod_revision:
            raise conflict(rtype, name)
        updated = self._from_scale(rtype, current, body)
        result = await self._write_update(rtype, kv, updated, _replace(opts, subresource=""))
        return self._scale_of(rtype, result)

    # -- delete ---------------------------------------------------------------

    async def delete(self, rtype: ResourceType, namespace: str, name: str, options: Obj, opts: WriteOptions) -> Obj:
        for _ in range(_CONFLICT_RETRIES):
            kv = await self._get_kv(rtype, namespace, name)
            try:
                return await self._delete_kv(rtype, kv, options, opts)
            except Conflict:
                if (options.get("preconditions") or {}).get("resourceVersion"):
                    raise
        raise conflict(rtype, name)

    async def _delete_kv(self, rtype: ResourceType, kv: KeyValue, options: Obj, opts: WriteOptions) -> Obj:
        obj = decode(kv, rtype)
        meta = obj["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise Conflict(f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object '
                           f'meta: {meta.get("uid")}', name=meta["name"], group=rtype.group, kind=rtype.plural)
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise Conflict(f'Precondition failed: ResourceVersion in precondition: '
                           f'{pre["resourceVersion"]}, ResourceVersion in object meta: '
                           f'{meta["resourceVersion"]}', name=meta["name"], group=rtype.group, kind=rtype.plural)
        policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "")
        if policy not in ("", "Orphan", "Foreground", "Background"):
            raise invalid("DeleteOptions", "", "", [cause("propagationPolicy",
                          f'Unsupported value: "{policy}": supported values: "Foreground", '
                          '"Background", "Orphan", "nil"', "FieldValueNotSupported")])
        updated = copy.deepcopy(obj)
        umeta = updated["metadata"]
        finalizers = list(umeta.get("finalizers") or [])
        extra = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(policy)
        if extra and extra not in finalizers:
            finalizers.append(extra)
        if policy == "Background":
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        grace = options.get("gracePeriodSeconds")
        graceful = (
            rtype.group == "" and rtype.kind == "Pod"
            and (obj.get("spec") or {}).get("nodeName")
            and (grace is None or grace > 0)
            and (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        )
        namespace_finalizing = (
            rtype.group == "" and rtype.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers")
        )
        if finalizers or graceful or namespace_finalizing:
            if not umeta.get("deletionTimestamp"):
                seconds = 0
                if graceful:
                    seconds = grace if grace is not None else (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
                umeta["deletionTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
                umeta["deletionGracePeriodSeconds"] = seconds
            if finalizers:
                umeta["finalizers"] = finalizers
            if namespace_finalizing:
                updated.setdefault("status", {})["phase"] = "Terminating"
            if updated == obj or opts.dry_run:
                return updated
            try:
                stored = await self.store.update(kv.key, self._sized(encode(updated)), expected_revision=kv.mod_revision)
            except (ConflictError, KeyNotFoundError, UnavailableError) as exc:
                raise _store_errors(rtype, umeta["name"], exc) from exc
            result = decode(stored, rtype)
            self._notify(rtype, "MODIFIED", result)
            return result
        if opts.dry_run:
            return obj
        try:
            await self.store.delete(kv.key, expected_revision=kv.mod_revision)
        except (ConflictError, KeyNotFoundError, UnavailableError) as exc:
            raise _store_errors(rtype, meta["name"], exc) from exc
        self._notify(rtype, "DELETED", obj)
        await self._after_delete(rtype, obj)
        return obj

    async def delete_collection(self, rtype: ResourceType, namespace: str, options: Obj, opts: WriteOptions, *, label_selector: str = "", field_selector: str = "") -> Obj:
        listed = await self.list(rtype, namespace, label_selector=label_selector, field_selector=field_selector)
        deleted = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                deleted.append(await self.delete(rtype, meta.get("namespace", ""), meta["name"], options, opts))
            except NotFound:
                continue
        listed["items"] = deleted
        return listed

    async def _after_delete(self, rtype: ResourceType, obj: Obj) -> None:
        if rtype.kind == "Service" and rtype.group == "":
            await ipalloc.release(self.store, obj)

    # -- helpers ------------------------------------------------------------

    def _notify(self, rtype: ResourceType, event: str, obj: Obj) -> None:
        for hook in self.after_write:
            hook(rtype, event, obj)

    def _decode_body(self, rtype: ResourceType, body: Any, opts: WriteOptions) -> Obj:
        if not isinstance(body, dict):
            raise BadRequest(f"the body of the request must be a {rtype.kind} object")
        obj = copy.deepcopy(body)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        expected_kind = "Scale" if opts.subresource == "scale" else rtype.kind
        expected_version = "autoscaling/v1" if opts.subresource == "scale" else rtype.api_version
        if kind and kind != expected_kind:
            raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind "
                             f"({expected_kind})")
        if api_version and api_version != expected_version:
            raise BadRequest(f"the API version in the data ({api_version}) does not match the "
                             f"expected API version ({expected_version})")
        if opts.subresource == "scale":
            return obj
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        node = schema_for(rtype)
        if node is None:
            return obj
        found = schemas.prune(obj, node, drop_empty=not rtype.is_custom)
        if found.wrong_types:
            path, expected, value = found.wrong_types[0]
            message = (f"{rtype.kind} in version \"{rtype.version}\" cannot be handled as a "
                       f"{rtype.kind}: field {path}: expected {expected}, got {json.dumps(value)[:60]}")
            if rtype.is_custom:
                raise invalid(rtype.kind, rtype.group, (obj.get("metadata") or {}).get("name", ""), [
                    cause(p, f"Invalid value: {json.dumps(v)[:60]}: {p} in body must be of type {e}",
                          "FieldValueTypeInvalid") for p, e, v in found.wrong_types])
            raise BadRequest(message)
        if found.unknown:
            mode = opts.field_validation
            if mode == "Strict":
                fields = ", ".join(f'unknown field "{u}"' for u in found.unknown)
                raise BadRequest(f"{rtype.kind} in version \"{rtype.version}\" cannot be handled "
                                 f"as a {rtype.kind}: strict decoding error: {fields}")
            if mode == "Warn":
                opts.warnings.extend(f'unknown field "{u}"' for u in found.unknown)
        return obj

    def _validate(self, rtype: ResourceType, obj: Obj, old: Obj | None = None) -> None:
        errs = validation.metadata_errors(rtype, obj)
        if old is not None:
            errs += validation.update_errors(rtype, old, obj)
        if rtype.is_custom:
            if self.validate_custom is not None:
                errs += self.validate_custom(rtype, obj)
        else:
            errs += validation.type_errors(rtype, obj)
            node = schema_for(rtype)
            if node is not None:
                seen = {e["field"] for e in errs}
                errs += [cause(p, "Required value", "FieldValueRequired")
                         for p in schemas.missing_required(obj, node) if p not in seen]
        if errs:
            raise invalid(rtype.kind, rtype.group, obj["metadata"].get("name", ""), errs)


def _at(obj: Obj, path: str) -> Any:
    """The value at a ``.spec.replicas``-style path, or None."""
    cur: Any = obj
    for part in path.strip(".").split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _put(obj: Obj, path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _same(old: Obj, new: Obj) -> bool:
    return old == new


def _replace(opts: WriteOptions, **changes: Any) -> WriteOptions:
    clone = copy.copy(opts)
    for key, value in changes.items():
        setattr(clone, key, value)
    return clone


def _parse_rv(rv: str) -> int:
    try:
        value = int(rv)
    except ValueError:
        raise BadRequest(f'invalid resourceVersion "{rv}": must be an integer') from None
    if value < 0:
        raise BadRequest(f'invalid resourceVersion "{rv}"')
    return value


def _encode_continue(revision: int, start: str, prefix: str) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": revision, "start": start[len(prefix):]}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        revision, start = int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise BadRequest(f"continue key is not valid: {token!r}") from None
    if ".." in start.split("/") or start.startswith("/"):
        raise BadRequest("continue key is not valid: it may not escape the listed prefix")
    return revision, prefix + start
