"""Decoding of Kubernetes' protobuf request bodies into plain JSON dicts.

kubectl's typed clients send ``Content-Type: application/vnd.kubernetes.protobuf``:
the magic ``k8s\\x00``, then a ``runtime.Unknown`` whose ``typeMeta`` names
the apiVersion and kind and whose ``raw`` is the object's message. The
field table (``protobuf-fields.json``, made by ``protogen.py`` from
Kubernetes' ``generated.proto`` files) maps field numbers to JSON names and
types; a handful of apimachinery types have their own JSON shape (Time,
Duration, IntOrString, Quantity, RawExtension, FieldsV1, string lists).

go-to-protobuf writes every non-pointer field even at its zero value; Go's
JSON would omit most of them (``omitempty``), so empty strings, ``false``
and empty objects are dropped. Integer zeros are kept (``replicas: 0``
must survive). Answers always go out as JSON, which every client accepts
next to protobuf.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import struct
from importlib import resources
from typing import Any

from .errors import BadRequest, UnsupportedMediaType

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_LIST_WRAPPERS = {META + "Verbs", "k8s.io.api.authorization.v1.ExtraValue",
                  "k8s.io.api.authentication.v1.ExtraValue"}
_SIGNED = {"int32", "int64", "sint32", "sint64"}


@functools.cache
def _table() -> dict[str, list[list[Any]]]:
    data = (resources.files(__package__) / "protobuf-fields.json").read_bytes()
    table: dict[str, list[list[Any]]] = json.loads(data)
    return table


@functools.cache
def _fields(message: str) -> dict[int, tuple[str, str, str]]:
    return {num: (name, typ, label) for num, name, typ, label in _table().get(message, [])}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise BadRequest("protobuf: truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise BadRequest("protobuf: varint too long")


def _raw_fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) in order."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    value: Any
    while pos < len(data):
        key, pos = _varint(data, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise BadRequest("protobuf: truncated field")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise BadRequest(f"protobuf: unsupported wire type {wire}")
        out.append((num, wire, value))
    return out


def _scalar(typ: str, wire: int, value: Any) -> Any:
    if typ == "string":
        return bytes(value).decode("utf-8", errors="replace")
    if typ == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if typ == "bool":
        return bool(value)
    if typ in ("double", "fixed64") and wire == 1:
        return struct.unpack("<d", value)[0] if typ == "double" else struct.unpack("<Q", value)[0]
    if typ in ("float", "fixed32") and wire == 5:
        return struct.unpack("<f", value)[0] if typ == "float" else struct.unpack("<I", value)[0]
    if typ in _SIGNED and value >= 1 << 63:
        return value - (1 << 64)
    return value


def _packed(typ: str, value: bytes) -> list[Any]:
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(_scalar(typ, 0, v))
    return out


def _time(msg: dict[int, Any], micro: bool) -> str | None:
    seconds, nanos = msg.get(1, 0), msg.get(2, 0)
    if seconds >= 1 << 63:
        seconds -= 1 << 64
    if not seconds and not nanos:
        return None
    t = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(ns: int) -> str:
    if ns >= 1 << 63:
        ns -= 1 << 64
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns == 0:
        return "0s"
    seconds, frac = divmod(ns, 1_000_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs}.{frac:09d}".rstrip("0").rstrip(".") if frac else str(secs)
    text = ""
    if hours:
        text += f"{hours}h"
    if hours or minutes:
        text += f"{minutes}m"
    return sign + text + sec_text + "s"


def _special(message: str, data: bytes) -> tuple[bool, Any]:
    short = message.rsplit(".", 1)[-1]
    if message.startswith(META) and short in ("Time", "MicroTime", "Duration", "FieldsV1"):
        raw = {num: v for num, _, v in _raw_fields(data)}
        if short == "Duration":
            return True, _duration(raw.get(1, 0))
        if short == "FieldsV1":
            return True, json.loads(raw[1]) if raw.get(1) else {}
        return True, _time(raw, short == "MicroTime")
    if message == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        raw = {num: v for num, _, v in _raw_fields(data)}
        if raw.get(1, 0) == 1:
            return True, bytes(raw.get(3, b"")).decode()
        value = raw.get(2, 0)
        return True, value - (1 << 64) if value >= 1 << 63 else value
    if message == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        raw = {num: v for num, _, v in _raw_fields(data)}
        return True, bytes(raw.get(1, b"")).decode()
    if message == "k8s.io.apimachinery.pkg.runtime.RawExtension":
        raw = {num: v for num, _, v in _raw_fields(data)}
        body = bytes(raw.get(1, b""))
        return True, (json.loads(body) if body else None)
    if message in _LIST_WRAPPERS:
        return True, [bytes(v).decode() for num, _, v in _raw_fields(data) if num == 1]
    return False, None


# Non-pointer integer fields whose zero means "unset" (Go: omitempty, and the
# defaulters treat 0 as absent). Pointer fields (replicas, backoffLimit…) keep 0.
_ZERO_IS_UNSET = frozenset({
    "nodePort", "healthCheckNodePort", "generation", "hostPort", "minReadySeconds",
    "observedGeneration", "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
    "successThreshold", "failureThreshold",
})


def _empty(name: str, value: Any) -> bool:
    if value is None or value == "" or value is False or value == {}:
        return True
    return value == 0 and not isinstance(value, float) and name in _ZERO_IS_UNSET


def decode_message(message: str, data: bytes) -> Any:
    handled, value = _special(message, data)
    if handled:
        return value
    fields = _fields(message)
    if not fields and message not in _table():
        raise UnsupportedMediaType(f"protobuf: no schema for {message}; send application/json")
    out: dict[str, Any] = {}
    for num, wire, raw in _raw_fields(data):
        spec = fields.get(num)
        if spec is None:
            continue  # a field newer than our table: dropped, as an unknown JSON field is
        name, typ, label = spec
        is_message = "." in typ
        if label == "map":
            entry = {n: (w, v) for n, w, v in _raw_fields(raw)}
            key = bytes(entry.get(1, (2, b""))[1]).decode()
            w, v = entry.get(2, (2, b""))
            item = decode_message(typ, v) if is_message else _scalar(typ, w, v)
            out.setdefault(name, {})[key] = item
        elif label == "repeated":
            target = out.setdefault(name, [])
            if is_message:
                target.append(decode_message(typ, raw))
            elif wire == 2 and typ not in ("string", "bytes"):
                target.extend(_packed(typ, raw))
            else:
                target.append(_scalar(typ, wire, raw))
        elif label == "inline":
            # an embedded struct JSON flattens into its parent (Volume.volumeSource…)
            value = decode_message(typ, raw)
            if isinstance(value, dict):
                out.update(value)
        else:
            value = decode_message(typ, raw) if is_message else _scalar(typ, wire, raw)
            if _empty(name, value):
                out.pop(name, None)
            else:
                out[name] = value
    return out


def _message_for(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    package = group.split(".", 1)[0] if group else "core"
    return f"k8s.io.api.{package}.{version}.{kind}"


def decode(data: bytes) -> dict[str, Any]:
    """A protobuf request body → the object as JSON would carry it."""
    if not data.startswith(MAGIC):
        raise BadRequest("protobuf: the body lacks the k8s\\x00 envelope")
    envelope = {num: v for num, _, v in _raw_fields(data[len(MAGIC):])}
    type_meta = {num: bytes(v).decode() for num, _, v in _raw_fields(envelope.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if not kind:
        raise BadRequest("protobuf: the envelope names no kind")
    if kind == "DeleteOptions":
        message = META + "DeleteOptions"
    else:
        message = _message_for(api_version, kind)
    obj = decode_message(message, bytes(envelope.get(2, b"")))
    if not isinstance(obj, dict):
        raise BadRequest(f"protobuf: {kind} did not decode to an object")
    return {"apiVersion": api_version, "kind": kind, **obj}
