"""Query-string and body decoding with Docker's conventions and clear 400s."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from .errors import BadRequest

T = TypeVar("T")
_TRUE = {"1", "true", "True", "TRUE", "yes"}
_FALSE = {"", "0", "false", "False", "FALSE", "no"}


def boolean(q: Mapping[str, str], name: str, default: bool = False) -> bool:
    v = q.get(name)
    if v is None:
        return default
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise BadRequest(f"invalid value for {name}: {v!r} (expected a boolean: 1/0/true/false)")


def integer(q: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    v = q.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise BadRequest(f"invalid value for {name}: {v!r} (expected an integer)") from None


def filters(q: Mapping[str, str]) -> dict[str, list[str]]:
    """``filters={"status":["running"]}`` (or the old ``{"status":{"running":true}}``)."""
    raw = q.get("filters")
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise BadRequest(f"invalid filters: {raw!r} is not JSON") from None
    if not isinstance(doc, dict):
        raise BadRequest("invalid filters: expected a JSON object")
    out: dict[str, list[str]] = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out[k] = [x for x, on in v.items() if on]
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out[k] = v
        else:
            raise BadRequest(f"invalid filters: {k!r} must map to a list of strings")
    return out


def body(raw: bytes, typ: type[T], *, allow_empty: bool = True) -> T:
    if not raw.strip():
        if allow_empty:
            return msgspec.json.decode(b"{}", type=typ)
        raise BadRequest("request body is required")
    try:
        return msgspec.json.decode(raw, type=typ)
    except msgspec.ValidationError as e:
        raise BadRequest(f"invalid request body: {e}") from None
    except msgspec.DecodeError as e:
        raise BadRequest(f"invalid JSON: {e}") from None


def to_json(obj: Any) -> bytes:
    return msgspec.json.encode(obj)
