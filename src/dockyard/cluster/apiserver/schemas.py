"""The built-in types' schemas, from the ``kubernetes-validate`` package.

kubernetes-validate ships JSON Schema for every built-in type with the
extensions kube-openapi puts there (``x-kubernetes-group-version-kind``,
``x-kubernetes-patch-merge-key``, ``x-kubernetes-patch-strategy``,
``x-kubernetes-list-type``…). The API server uses one copy of them for three
jobs: finding unknown fields (``fieldValidation``) and wrong types, strategic
merge patch metadata (``patch.py``, ``apply.py``), and the OpenAPI documents
(``openapi.py``). CRD schemas are walked by the same code: they are the same
shape, inline instead of ``$ref``.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

KUBE_VERSION = "1.32.0"
Node = dict[str, Any]


@functools.cache
def definitions() -> dict[str, Node]:
    """``$defs`` of kubernetes-validate's 1.32 schemas (name -> schema)."""
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    data = (base / f"v{KUBE_VERSION}-local" / "_definitions.json").read_bytes()
    defs: dict[str, Node] = json.loads(data)["$defs"]
    return defs


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def resolve(node: Node | None) -> Node:
    """Follow ``$ref`` (also through a lone ``allOf``) to the schema it names."""
    seen = 0
    while node is not None and seen < 20:
        seen += 1
        if "$ref" in node:
            node = definitions().get(ref_name(node["$ref"]), {})
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        else:
            return node
    return node or {}


def definition(name: str) -> Node:
    return definitions().get(name, {})


def types_of(node: Node) -> set[str]:
    t = node.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t) - {"null"}


def child(node: Node, key: str) -> Node | None:
    """The schema of property ``key`` of an object schema, or None if unknown."""
    node = resolve(node)
    props = node.get("properties")
    if props and key in props:
        return props[key]  # type: ignore[no-any-return]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def items(node: Node | None) -> Node | None:
    if node is None:
        return None
    return resolve(node).get("items")


def open_ended(node: Node) -> bool:
    """True where any field is allowed (no properties listed, or preserve-unknown)."""
    node = resolve(node)
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return True
    if "properties" not in node and "additionalProperties" not in node:
        return True
    return node.get("additionalProperties") is True


def _type_ok(node: Node, value: Any) -> str | None:
    """None when ``value`` fits ``node``'s type, else the expected type's name."""
    if value is None:
        return None
    if "oneOf" in node or node.get("x-kubernetes-int-or-string"):
        # IntOrString and Quantity: a string or a number
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return None
        return "string or number"
    want = types_of(node)
    if not want:
        return None
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }
    if any(checks[t](value) for t in want if t in checks):
        return None
    return "/".join(sorted(want))


class Pruned:
    """What ``prune`` found: unknown fields (dropped) and type mismatches."""

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.wrong_types: list[tuple[str, str, Any]] = []  # (path, expected, value)


def _is_map(node: Node) -> bool:
    node = resolve(node)
    return isinstance(node.get("additionalProperties"), dict) and "properties" not in node


def prune(obj: Any, node: Node, path: str = "", found: Pruned | None = None,
          drop_empty: bool = False) -> Pruned:
    """Drop fields the schema does not know from ``obj`` (in place), recording
    their paths as Kubernetes prints them (``spec.containers[0].foo``).

    ``drop_empty`` (built-in types): also drop empty maps and lists, as Go's
    ``omitempty`` does when kube-apiserver re-encodes a typed object — so
    ``annotations: {}`` in a patch leaves no trace, as with Kubernetes."""
    found = found or Pruned()
    node = resolve(node)
    expected = _type_ok(node, obj)
    if expected:
        found.wrong_types.append((path or ".", expected, obj))
        return found
    if isinstance(obj, dict):
        if node.get("x-kubernetes-preserve-unknown-fields") and "properties" not in node:
            return found
        props = node.get("properties")
        extra = node.get("additionalProperties")
        for key in list(obj):
            sub = f"{path}.{key}" if path else key
            child_node = props[key] if props is not None and key in props else extra
            if drop_empty and isinstance(child_node, dict) and (
                    obj[key] == [] or (obj[key] == {} and _is_map(child_node))):
                del obj[key]
                continue
            if props is not None and key in props:
                prune(obj[key], props[key], sub, found, drop_empty)
            elif isinstance(extra, dict):
                prune(obj[key], extra, sub, found, drop_empty)
            elif props is not None and not node.get("x-kubernetes-preserve-unknown-fields") and extra is not True:
                found.unknown.append(sub)
                del obj[key]
    elif isinstance(obj, list):
        item = node.get("items")
        if isinstance(item, dict):
            for i, value in enumerate(obj):
                prune(value, item, f"{path}[{i}]", found, drop_empty)
    return found


def patch_meta(node: Node | None) -> tuple[str, str, str]:
    """(patch strategy, merge key, list type) of a field's schema."""
    if node is None:
        return "", "", ""
    strategy = node.get("x-kubernetes-patch-strategy", "")
    key = node.get("x-kubernetes-patch-merge-key", "")
    list_type = node.get("x-kubernetes-list-type", "")
    if not (strategy or key or list_type):
        target = resolve(node)
        strategy = target.get("x-kubernetes-patch-strategy", "")
        key = target.get("x-kubernetes-patch-merge-key", "")
        list_type = target.get("x-kubernetes-list-type", "")
        if not key and target.get("x-kubernetes-list-map-keys"):
            key = target["x-kubernetes-list-map-keys"][0]
    if not key and node.get("x-kubernetes-list-map-keys"):
        key = node["x-kubernetes-list-map-keys"][0]
    return strategy, key, list_type


def missing_required(obj: Any, node: Node, path: str = "") -> list[str]:
    """Paths of required fields (the schemas' ``required``) that ``obj`` lacks."""
    node = resolve(node)
    out: list[str] = []
    if isinstance(obj, dict):
        for key in node.get("required") or []:
            if obj.get(key) in (None, "", [], {}) and not isinstance(obj.get(key), bool | int):
                out.append(f"{path}.{key}" if path else key)
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        for key, value in obj.items():
            sub = props.get(key) if key in props else (extra if isinstance(extra, dict) else None)
            if sub is not None and isinstance(value, dict | list):
                out += missing_required(value, sub, f"{path}.{key}" if path else key)
    elif isinstance(obj, list) and isinstance(node.get("items"), dict):
        for i, value in enumerate(obj):
            if isinstance(value, dict | list):
                out += missing_required(value, node["items"], f"{path}[{i}]")
    return out
