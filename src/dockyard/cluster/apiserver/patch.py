"""The three PATCH flavours kubectl sends, over plain dict objects.

- ``application/json-patch+json``: RFC 6902 operations.
- ``application/merge-patch+json``: RFC 7386 (``null`` deletes, lists replace).
- ``application/strategic-merge-patch+json``: Kubernetes' own. Lists whose
  schema says ``x-kubernetes-patch-strategy: merge`` are merged element by
  element on the ``x-kubernetes-patch-merge-key`` (containers by ``name``),
  and the directives kubectl emits are honoured: ``$patch: replace|delete|
  merge``, ``$retainKeys``, ``$deleteFromPrimitiveList/<field>`` and
  ``$setElementOrder/<field>``. The metadata comes from ``schemas.py``.
"""

from __future__ import annotations

import copy
from typing import Any

from . import schemas
from .errors import BadRequest, Invalid, UnsupportedMediaType

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


# -- RFC 6902 -------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise BadRequest(f'json patch: invalid path "{path}": must start with /')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, dict):
            if part not in cur:
                raise Invalid(f'the server rejected our request due to an error in our request: path "{path}" not found')
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                raise Invalid(f'json patch: index "{part}" out of range in "{path}"') from None
        else:
            raise Invalid(f'json patch: path "{path}" not found')
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                index = int(last)
            except ValueError:
                raise Invalid(f'json patch: bad index "{last}" in "{path}"') from None
            if index < 0 or index > len(parent):
                raise Invalid(f'json patch: index {index} out of range in "{path}"')
            parent.insert(index, value)
    else:
        raise Invalid(f'json patch: path "{path}" not found')
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise Invalid("json patch: cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    try:
        if isinstance(parent, dict):
            return doc, parent.pop(last)
        if isinstance(parent, list):
            return doc, parent.pop(int(last))
    except (KeyError, ValueError, IndexError):
        pass
    raise Invalid(f'the server rejected our request due to an error in our request: "{path}" not found: unable to remove')


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise BadRequest("json patch: the patch must be a JSON array of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise BadRequest(f"json patch: malformed operation {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise BadRequest(f'json patch: "{kind}" operation on "{path}" needs a value')
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc, _ = _remove(doc, path) if _pointer(path) else (doc, None)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from", "")
            if kind == "move":
                doc, value = _remove(doc, source)
            else:
                value = copy.deepcopy(_walk(doc, _pointer(source), source))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _walk(doc, _pointer(path), path) != op["value"]:
                raise Invalid(f'json patch: test operation failed on "{path}"')
        else:
            raise BadRequest(f'json patch: unknown operation "{kind}"')
    return doc


# -- RFC 7386 -------------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif _only_deletions(value) and not isinstance(result.get(key), dict):
            # {"annotations": {"x": null}} on an object without annotations: Go's
            # typed decoding would leave no empty map behind, so neither do we
            continue
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _only_deletions(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        v is None or _only_deletions(v) for k, v in value.items() if not k.startswith("$"))


# -- strategic merge patch -----------------------------------------------


def strategic_merge_patch(doc: Any, patch: Any, node: schemas.Node | None) -> Any:
    """Apply a strategic merge patch; ``node`` is the object's schema (None:
    a type without patch metadata, which Kubernetes refuses with 415)."""
    if node is None:
        raise UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: "
            f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}"
        )
    if not isinstance(patch, dict):
        raise BadRequest("strategic merge patch: the patch must be a JSON object")
    return _merge_map(copy.deepcopy(doc) if isinstance(doc, dict) else {}, patch, node)


def _merge_map(orig: dict[str, Any], patch: dict[str, Any], node: schemas.Node | None) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(orig.get(field), list):
                orig[field] = [v for v in orig[field] if v not in value]
            continue
        sub = schemas.child(node, key) if node is not None else None
        if value is None:
            orig.pop(key, None)
        elif isinstance(value, dict) and isinstance(orig.get(key), dict):
            merged = _merge_map(orig[key], value, sub)
            if merged is None:
                orig.pop(key, None)
            else:
                orig[key] = merged
        elif isinstance(value, dict):
            if _only_deletions(value):
                continue  # nothing to delete from; do not leave an empty map behind
            merged = _merge_map({}, value, sub)
            if merged is not None:
                orig[key] = _strip_directives(merged)
        elif isinstance(value, list):
            orig[key] = _merge_list(orig.get(key), value, sub)
        else:
            orig[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(orig.get(field), list):
            orig[field] = _reorder(orig[field], order, schemas.child(node, field) if node else None)
    if isinstance(retain, list):
        for key in list(orig):
            if key not in retain:
                del orig[key]
    return orig


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$")
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def _merge_list(orig: Any, patch: list[Any], node: schemas.Node | None) -> list[Any]:
    strategy, merge_key, _ = schemas.patch_meta(node)
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip_directives(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    if "merge" not in strategy.split(",") or not isinstance(orig, list):
        return [_strip_directives(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "delete")]
    result = copy.deepcopy(orig)
    item_node = schemas.items(node)
    if not merge_key:  # a set of primitives
        for value in patch:
            if value not in result:
                result.append(copy.deepcopy(value))
        return result
    for item in patch:
        if not isinstance(item, dict):
            raise BadRequest(f"strategic merge patch: list item {item!r} lacks merge key {merge_key}")
        key_value = item.get(merge_key)
        index = next(
            (i for i, o in enumerate(result) if isinstance(o, dict) and o.get(merge_key) == key_value),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(_strip_directives(_merge_map({}, item, item_node)))
        else:
            merged = _merge_map(result[index], item, item_node)
            if merged is None:
                del result[index]
            else:
                result[index] = merged
    return result


def _reorder(values: list[Any], order: list[Any], node: schemas.Node | None) -> list[Any]:
    _, merge_key, _ = schemas.patch_meta(node)

    def ident(v: Any) -> Any:
        return v.get(merge_key) if merge_key and isinstance(v, dict) else repr(v)

    wanted = [o.get(merge_key) if merge_key and isinstance(o, dict) else repr(o) for o in order]
    rank = {w: i for i, w in enumerate(wanted)}
    listed = sorted((v for v in values if ident(v) in rank), key=lambda v: rank[ident(v)])
    others = [v for v in values if ident(v) not in rank]
    return listed + others
