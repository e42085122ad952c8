"""JSON for the CLI's hot path: the C codec of ``json`` without the ``json`` package.

``import json`` costs a fresh interpreter ~8 ms of CPU: ``json.decoder``
imports ``re`` (and through it ``enum``, ``functools``, ``collections``)
for the whitespace and number patterns of its pure-Python fallback. Every
``dockyard-runtime`` verb reads and writes state.json, and a container's
lifecycle is three or four of them. The accelerator the ``json`` package
itself uses (``_json``, part of CPython) needs none of that: ``loads`` and
``dumps`` here call it directly, with the settings ``json.loads`` and
``json.dumps(obj, separators=(",", ":"))`` use. Malformed input is handed
to ``json.loads`` (imported then, on the error path only), so the error
is the standard ``ValueError`` with the standard message.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _Context:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # it reads these attributes


def _encode_default(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _encoder(key_separator: str, item_separator: str) -> Any:
    # (markers, default, encoder, indent, key_separator, item_separator,
    # sort_keys, skipkeys, allow_nan): json.encoder.JSONEncoder.iterencode's
    # call with indent=None. A new one per call, as json does: ``markers``
    # (the circular-reference check) must not be shared between threads.
    return _json.make_encoder({}, _encode_default, _json.encode_basestring_ascii, None,
                              key_separator, item_separator, False, False, True)


def loads(data: bytes | str) -> Any:
    """``json.loads`` for UTF-8 bytes or text."""
    try:
        text = data.decode() if isinstance(data, bytes) else data
        start = len(text) - len(text.lstrip(_WS))
        value, end = _scan(text, start)
        if text[end:].strip(_WS):
            raise ValueError("extra data")
        return value
    except (ValueError, StopIteration, IndexError, SystemError):
        # The error path: json's own message (and its BOM/encoding rules).
        # SystemError: _json raises its errors as json.decoder.JSONDecodeError,
        # found in sys.modules, and fails that way while json is not loaded.
        import json

        return json.loads(data)


def dumps(obj: object, *, compact: bool = True) -> str:
    """``json.dumps(obj, separators=(",", ":"))``; ``compact=False``: ``json.dumps(obj)``."""
    encode = _encoder(":", ",") if compact else _encoder(": ", ", ")
    return "".join(encode(obj, 0))


def dumps_indent(obj: object, indent: int = 2, _level: int = 0) -> str:
    """``json.dumps(obj, indent=indent)`` (what ``runc state`` prints)."""
    pad = " " * (indent * (_level + 1))
    end = " " * (indent * _level)
    if isinstance(obj, dict) and obj:
        items = (f"{pad}{dumps(str(k))}: {dumps_indent(v, indent, _level + 1)}" for k, v in obj.items())
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    if isinstance(obj, (list, tuple)) and obj:
        items = (f"{pad}{dumps_indent(v, indent, _level + 1)}" for v in obj)
        return "[\n" + ",\n".join(items) + f"\n{end}]"
    return dumps(obj)
