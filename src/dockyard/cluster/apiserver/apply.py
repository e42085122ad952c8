"""Server-side apply and ``metadata.managedFields``.

Every write records which manager owns which fields, in Kubernetes'
``FieldsV1`` form (``{"f:spec": {"f:replicas": {}}}``; list items of
``list-type: map`` lists as ``k:{"name":"c"}``, of sets as ``v:"x"``).

- An *Update* (create, update, patch) gives the writer the fields whose
  value it changed and takes them from every other manager.
- An *Apply* (``application/apply-patch+yaml``) declares the whole intent
  of one manager: its fields are merged into the live object (lists with map
  keys merge by key, other lists are atomic), fields it applied before and
  no longer does are removed unless another manager owns them, and a field
  another manager owns with a different value is a 409 conflict listing
  every such field, unless ``force=true``, which takes them over.

Paths are tuples of those path elements; a field set is a set of paths.
"""

from __future__ import annotations

import copy
import datetime
import json
from typing import TYPE_CHECKING, Any

from . import schemas
from .errors import BadRequest, Conflict

if TYPE_CHECKING:
    from .resources import ResourceType
    from .storage import WriteOptions

Obj = dict[str, Any]
Path = tuple[str, ...]
# metadata the server owns: never part of anybody's field set
_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
              "generateName"}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _item_key(item: Any, keys: list[str]) -> str:
    return "k:" + json.dumps({k: item.get(k) for k in keys if k in item}, separators=(",", ":"),
                             sort_keys=True)


def _list_keys(node: schemas.Node | None) -> list[str]:
    if node is None:
        return []
    target = schemas.resolve(node)
    keys = node.get("x-kubernetes-list-map-keys") or target.get("x-kubernetes-list-map-keys")
    if keys:
        return list(keys)
    _, merge_key, _ = schemas.patch_meta(node)
    return [merge_key] if merge_key else []


def _list_type(node: schemas.Node | None) -> str:
    if node is None:
        return "atomic"
    if _list_keys(node):
        return "map"
    _, _, list_type = schemas.patch_meta(node)
    strategy, _, _ = schemas.patch_meta(node)
    if list_type == "set" or "merge" in strategy.split(","):
        return "set"
    return "atomic"


def leaves(obj: Any, node: schemas.Node | None, path: Path = (), out: dict[Path, Any] | None = None,
           top: bool = True) -> dict[Path, Any]:
    """Every owned path of ``obj`` with its value (None for inner nodes)."""
    out = {} if out is None else out
    if isinstance(obj, dict):
        if path:
            out.setdefault(path, None)
        if node is not None and schemas.resolve(node).get("x-kubernetes-map-type") == "atomic":
            out[path] = obj
            return out
        for key, value in obj.items():
            if top and key in ("apiVersion", "kind"):
                continue
            if path == ("f:metadata",) and key in _SKIP_META:
                continue
            sub = schemas.child(node, key) if node is not None else None
            leaves(value, sub, (*path, f"f:{key}"), out, top=False)
            if value == {} or value == []:
                out[(*path, f"f:{key}")] = value
        return out
    if isinstance(obj, list):
        kind = _list_type(node)
        if kind == "map":
            keys = _list_keys(node)
            item_node = schemas.items(node)
            out[path] = None
            for item in obj:
                if isinstance(item, dict):
                    p = (*path, _item_key(item, keys))
                    out[p] = None
                    leaves(item, item_node, p, out, top=False)
            return out
        if kind == "set":
            out[path] = None
            for item in obj:
                out[(*path, "v:" + json.dumps(item, separators=(",", ":")))] = item
            return out
    out[path] = obj
    return out


def to_fields_v1(paths: set[Path]) -> Obj:
    root: Obj = {}
    for path in sorted(paths):
        cur = root
        for i, part in enumerate(path):
            cur = cur.setdefault(part, {})
            if i < len(path) - 1:
                continue
        # a list item that is itself owned gets "." (the item's identity)
        if path and path[-1].startswith("k:"):
            cur.setdefault(".", {})
    return root


def from_fields_v1(fields: Any, prefix: Path = ()) -> set[Path]:
    """The member paths of a FieldsV1 set: leaves (``{}``) and nodes marked
    ``"."``; a node that only leads to members is not one itself."""
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return out
    for key, value in fields.items():
        if key == ".":
            continue
        path = (*prefix, key)
        if not value or (isinstance(value, dict) and "." in value):
            out.add(path)
        out |= from_fields_v1(value, path)
    return out


def _entries(obj: Obj) -> list[Obj]:
    return list((obj.get("metadata") or {}).get("managedFields") or [])


def _set_entries(obj: Obj, entries: list[Obj]) -> None:
    entries = [e for e in entries if e.get("fieldsV1")]
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def _entry(manager: str, operation: str, api_version: str, paths: set[Path], subresource: str) -> Obj:
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version,
             "time": _now(), "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _schema(rtype: ResourceType) -> schemas.Node | None:
    from .storage import schema_for  # storage imports this module

    return schema_for(rtype)


def track_write(old: Obj | None, new: Obj, opts: WriteOptions, rtype: ResourceType) -> None:
    """Record an Update by ``opts.field_manager`` in ``new``'s managedFields."""
    if not opts.field_manager:
        # no manager named (or server-side apply already recorded itself):
        # keep what the object says, or what it had
        if old is not None and "managedFields" not in (new.get("metadata") or {}):
            _set_entries(new, _entries(old))
        return
    node = _schema(rtype)
    new_leaves = leaves(new, node)
    old_leaves = leaves(old, node) if old is not None else {}
    changed = {p for p, v in new_leaves.items() if p not in old_leaves or old_leaves[p] != v}
    removed = set(old_leaves) - set(new_leaves)
    entries = _entries(old) if old is not None else []
    subresource = opts.subresource if opts.subresource in ("status", "scale") else ""
    mine = set()
    kept = []
    for entry in entries:
        paths = from_fields_v1(entry.get("fieldsV1")) - removed
        if entry.get("manager") == opts.field_manager and entry.get("operation") == "Update" \
                and entry.get("subresource", "") == subresource:
            mine = paths
            continue
        paths -= {p for p in changed if new_leaves.get(p) is not None or p not in old_leaves}
        kept.append({**entry, "fieldsV1": to_fields_v1(paths)} if paths else {**entry, "fieldsV1": {}})
    mine |= {p for p in changed if _owned_leaf(p, new_leaves)}
    if mine:
        kept.append(_entry(opts.field_manager, "Update", rtype.api_version, mine, subresource))
    _set_entries(new, kept)


def _owned_leaf(path: Path, all_leaves: dict[Path, Any]) -> bool:
    # Own the leaves a write set and the list items it added; inner struct
    # nodes are implied by their children.
    return all_leaves.get(path) is not None or path[-1].startswith(("k:", "v:")) or \
        all_leaves.get(path, 1) in ({}, [])


def _merge(live: Any, applied: Any, node: schemas.Node | None) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict):
        if node is not None and schemas.resolve(node).get("x-kubernetes-map-type") == "atomic":
            return copy.deepcopy(applied)
        result = copy.deepcopy(live)
        for key, value in applied.items():
            sub = schemas.child(node, key) if node is not None else None
            result[key] = _merge(live.get(key), value, sub)
        return result
    if isinstance(live, list) and isinstance(applied, list) and _list_type(node) == "map":
        keys = _list_keys(node)
        item_node = schemas.items(node)
        merged: list[Any] = copy.deepcopy(live)
        for item in applied:
            if not isinstance(item, dict):
                continue
            ident = _item_key(item, keys)
            idx = next((i for i, x in enumerate(merged) if isinstance(x, dict) and _item_key(x, keys) == ident), None)
            if idx is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[idx] = _merge(merged[idx], item, item_node)
        return merged
    if isinstance(live, list) and isinstance(applied, list) and _list_type(node) == "set":
        return copy.deepcopy(live) + [copy.deepcopy(v) for v in applied if v not in live]
    return copy.deepcopy(applied)


def _remove_path(obj: Any, path: Path, node: schemas.Node | None) -> None:
    """Remove the field or list item at ``path`` (if still there)."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if isinstance(obj, dict) and head.startswith("f:"):
        key = head[2:]
        if key not in obj:
            return
        if not rest:
            del obj[key]
            return
        _remove_path(obj[key], rest, schemas.child(node, key) if node is not None else None)
    elif isinstance(obj, list):
        if head.startswith("k:"):
            keys = _list_keys(node)
            for i, item in enumerate(obj):
                if isinstance(item, dict) and _item_key(item, keys) == head:
                    if rest:
                        _remove_path(item, rest, schemas.items(node))
                    else:
                        del obj[i]
                    return
        elif head.startswith("v:"):
            value = json.loads(head[2:])
            if value in obj:
                obj.remove(value)


def apply(live: Obj | None, applied: Any, opts: WriteOptions, rtype: ResourceType, node: schemas.Node | None) -> Obj:
    """The object after ``opts.field_manager`` applies ``applied`` to ``live``."""
    if not opts.field_manager:
        raise BadRequest("PATCH, application/apply-patch+yaml requests require fieldManager to be set")
    if not isinstance(applied, dict):
        raise BadRequest("apply patch: the body must be an object")
    applied = copy.deepcopy(applied)
    if applied.get("apiVersion") and applied["apiVersion"] != rtype.api_version:
        raise BadRequest(f"the API version in the data ({applied['apiVersion']}) does not match "
                         f"the expected API version ({rtype.api_version})")
    if applied.get("kind") and applied["kind"] != rtype.kind:
        raise BadRequest(f"the kind in the data ({applied['kind']}) does not match the expected "
                         f"kind ({rtype.kind})")
    if node is not None:
        schemas.prune(applied, node)
    mine_leaves = leaves(applied, node)
    applied_paths = {p for p in mine_leaves if _owned_leaf(p, mine_leaves)}
    subresource = opts.subresource if opts.subresource in ("status", "scale") else ""
    if live is None:
        result: Obj = copy.deepcopy(applied)
        _set_entries(result, [_entry(opts.field_manager, "Apply", rtype.api_version, applied_paths, subresource)])
        return result
    live_leaves = leaves(live, node)
    entries = _entries(live)
    conflicts: list[tuple[str, str, Path]] = []
    previous: set[Path] = set()
    others_owned: set[Path] = set()
    for entry in entries:
        paths = from_fields_v1(entry.get("fieldsV1"))
        if entry.get("manager") == opts.field_manager and entry.get("operation") == "Apply":
            previous = paths
            continue
        others_owned |= paths
        for p in paths & applied_paths:
            if p in live_leaves and live_leaves[p] is not None and live_leaves[p] != mine_leaves.get(p):
                conflicts.append((entry.get("manager", ""), entry.get("apiVersion", ""), p))
    if conflicts and not opts.force:
        causes = [{"reason": "FieldManagerConflict",
                   "message": f'conflict with "{m}" using {v}',
                   "field": _dotted(p)} for m, v, p in conflicts]
        lines = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
        raise Conflict(f"Apply failed with {len(causes)} conflict{'s' if len(causes) > 1 else ''}: {lines}",
                       name=(live.get("metadata") or {}).get("name", ""), group=rtype.group,
                       kind=rtype.plural, causes=causes)
    result = _merge(live, {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}, node)
    assert isinstance(result, dict)
    # Remove what this manager no longer applies, shortest paths first (a
    # list item before its fields), keeping anything another manager owns
    # something inside.
    for p in sorted(previous - applied_paths - others_owned, key=len):
        if any(o[:len(p)] == p for o in others_owned | applied_paths):
            continue
        _remove_path(result, p, node)
    new_entries = []
    for entry in entries:
        if entry.get("manager") == opts.field_manager and entry.get("operation") == "Apply":
            continue
        paths = from_fields_v1(entry.get("fieldsV1"))
        if opts.force:
            paths -= applied_paths
        new_entries.append({**entry, "fieldsV1": to_fields_v1(paths) if paths else {}})
    new_entries.append(_entry(opts.field_manager, "Apply", rtype.api_version, applied_paths, subresource))
    _set_entries(result, new_entries)
    opts.field_manager = ""  # recorded here; the update that follows must not record it again
    return result


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        if part.startswith("f:"):
            out += "." + part[2:]
        else:
            out += "[" + part[2:] + "]"
    return out
