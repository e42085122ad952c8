"""config.json decoded with the standard library, for the runtime's hot path.

``dockyard.oci.runtime.load_config`` decodes into msgspec structs; importing
msgspec (and, through it, typing_extensions, inspect, datetime, decimal,
uuid) and building those classes costs every ``dockyard-runtime create`` or
``run`` some 35 ms of CPU: more than everything else the runtime does. So
``create`` decodes here instead: ``jsonio`` plus a walk over the field table
of ``config_fields.py`` (generated from the msgspec types; a test keeps the
two equal).

What it returns are *views*: one small class per spec type, with exactly
the attributes (names, defaults) of the ``oci.runtime`` type it stands for.
The runtime reads them the way it reads the msgspec structs (the engine
still hands ``exec`` and ``update`` real structs), so they are typed as
those structs. Errors are msgspec's, word for word: ``config.json:
Expected `int`, got `str` - at `$.process.user.uid```; and the same checks
``oci.runtime.load_config`` makes after decoding (ociVersion 1.x, known and
unique namespace types).

``new``, ``replace`` and ``to_builtins`` build, copy and serialise views
and structs alike (what ``msgspec.structs.replace`` and
``msgspec.to_builtins`` do for structs alone).
"""

from __future__ import annotations

from . import jsonio
from .config_fields import FIELDS, Row
from .errors import InvalidConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from dockyard.oci.runtime import Spec

    T = TypeVar("T")

SUPPORTED_MAJOR = 1
NAMESPACE_TYPES: tuple[str, ...] = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


class View:
    """A decoded spec object; subclasses (one per type) are made from ``FIELDS``."""

    __slots__ = ()
    __struct_fields__: tuple[str, ...] = ()
    _rows: tuple[Row, ...] = ()

    def __repr__(self) -> str:
        inner = ", ".join(f"{a}={getattr(self, a)!r}" for a in self.__struct_fields__)
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        if not hasattr(other, "__struct_fields__"):
            return NotImplemented
        names = self.__struct_fields__
        return (type(other).__name__ == type(self).__name__
                and other.__struct_fields__ == names
                and all(getattr(self, a) == getattr(other, a) for a in names))

    __hash__ = None  # type: ignore[assignment]  # mutable, like msgspec structs


def _make_classes() -> dict[str, type[View]]:
    out: dict[str, type[View]] = {}
    for name, rows in FIELDS.items():
        attrs = tuple(r[0] for r in rows)
        out[name] = type(name, (View,), {"__slots__": attrs, "__struct_fields__": attrs, "_rows": rows})
    return out


CLASSES = _make_classes()


class _Bad(Exception):
    """A decoding error, msgspec's words; ``load_config`` adds the prefix."""


def _where(path: str) -> str:
    return f" - at `{path}`" if path != "$" else ""


_JSON_NAMES = {str: "str", int: "int", bool: "bool", float: "float", list: "array", dict: "object",
               type(None): "null"}


def _expected(code: str) -> str:
    if code[0] == "?":
        return _expected(code[1:]) + " | null"
    if code[0] == "[":
        return "array"
    if code[0] == "{" or code[0].isupper():
        return "object"
    return code


def _mismatch(code: str, value: object, path: str) -> _Bad:
    got = _JSON_NAMES.get(type(value), type(value).__name__)
    return _Bad(f"Expected `{_expected(code)}`, got `{got}`{_where(path)}")


def _decode(code: str, value: object, path: str) -> object:
    if code[0] == "?":
        if value is None:
            return None
        inner = code[1:]
    else:
        inner = code
    first = inner[0]
    if first == "[":
        if type(value) is not list:
            raise _mismatch(code, value, path)
        item = inner[1:-1]
        return [_decode(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if first == "{":
        if type(value) is not dict:
            raise _mismatch(code, value, path)
        item = inner[1:-1]
        return {k: _decode(item, v, f"{path}[...]") for k, v in value.items()}
    if first.isupper():
        if type(value) is not dict:
            raise _mismatch(code, value, path)
        return _object(inner, value, path)
    # bool is an int subclass in Python but not in JSON: compare exact types.
    if type(value).__name__ != inner:
        raise _mismatch(code, value, path)
    return value


def _object(name: str, data: dict[str, Any], path: str) -> View:
    cls = CLASSES[name]
    obj = object.__new__(cls)
    for attr, wire, code, kind, default in cls._rows:
        if wire in data:
            value = _decode(code, data[wire], f"{path}.{wire}")
        elif kind == "=":
            value = default
        elif kind == "()":
            value = [] if default == "list" else _object(str(default), {}, path)
        else:
            raise _Bad(f"Object missing required field `{wire}`{_where(path)}")
        object.__setattr__(obj, attr, value)
    return obj


def load_config(raw: bytes | str) -> Spec:
    """config.json as views; ``InvalidConfig`` naming the bad field, like ``oci.runtime``."""
    try:
        data = jsonio.loads(raw)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError alike
        raise InvalidConfig(f"config.json: malformed JSON: {e}") from None
    try:
        if type(data) is not dict:
            raise _mismatch("Spec", data, "$")
        spec: Spec = _object("Spec", data, "$")  # type: ignore[assignment]  # a view of Spec
    except _Bad as e:
        raise InvalidConfig(f"config.json: {e}") from None
    check(spec)
    return spec


def check(spec: Spec) -> None:
    """What ``oci.runtime.load_config`` checks beyond the shape, in the same words."""
    major = spec.oci_version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise InvalidConfig(
            f"config.json: $.ociVersion: unsupported version {spec.oci_version!r}, "
            f"expected {SUPPORTED_MAJOR}.x"
        )
    if spec.linux and spec.linux.namespaces:
        seen: set[str] = set()
        for i, ns in enumerate(spec.linux.namespaces):
            if ns.type not in NAMESPACE_TYPES:
                raise InvalidConfig(
                    f"config.json: $.linux.namespaces[{i}].type: unknown namespace type "
                    f"{ns.type!r}, expected one of {', '.join(NAMESPACE_TYPES)}"
                )
            if ns.type in seen:
                raise InvalidConfig(
                    f"config.json: $.linux.namespaces[{i}].type: duplicate namespace {ns.type!r}"
                )
            seen.add(ns.type)


def new(name: str, **fields: Any) -> Any:
    """A view of the spec type called ``name`` (``LinuxDeviceCgroup``...), defaults filled in."""
    return _new(name, fields)


def _new(name: str, fields: dict[str, Any]) -> View:
    cls = CLASSES[name]
    obj = object.__new__(cls)
    for attr, _wire, _code, kind, default in cls._rows:
        if attr in fields:
            value = fields.pop(attr)
        elif kind == "=":
            value = default
        elif kind == "()":
            value = [] if default == "list" else _new(str(default), {})
        else:
            raise TypeError(f"{name}: missing required field {attr!r}")
        object.__setattr__(obj, attr, value)
    if fields:
        raise TypeError(f"{name}: unknown fields {sorted(fields)}")
    return obj


def replace(obj: T, **changes: Any) -> T:
    """A shallow copy with ``changes``: a view stays a view, a struct a struct."""
    if isinstance(obj, View):
        copy = object.__new__(type(obj))
        for attr in obj.__struct_fields__:
            object.__setattr__(copy, attr, changes.pop(attr) if attr in changes else getattr(obj, attr))
        if changes:
            raise TypeError(f"{type(obj).__name__}: unknown fields {sorted(changes)}")
        return copy
    import msgspec  # a struct: msgspec is loaded already

    out: T = msgspec.structs.replace(obj, **changes)  # type: ignore[type-var]
    return out


def to_builtins(obj: object) -> object:
    """Views and structs alike as JSON-ready values, under the spec's (wire) names.

    Every field is written, defaults too: this is for comparing and for cache
    keys, not for writing config.json.
    """
    if isinstance(obj, list):
        return [to_builtins(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_builtins(v) for k, v in obj.items()}
    fields = getattr(obj, "__struct_fields__", None)
    if fields is None:
        return obj
    rows = FIELDS[type(obj).__name__]
    return {wire: to_builtins(getattr(obj, attr)) for attr, wire, *_ in rows}
