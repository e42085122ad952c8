"""Compose's YAML dialect: YAML 1.2 scalars as docker compose (Go yaml.v3) reads them.

PyYAML implements YAML 1.1, where ``yes``/``on``/``no`` are booleans, ``0777``
is octal, ``1:30`` is base 60 and duplicate keys silently overwrite. docker
compose decodes with yaml.v3, so this loader resolves plain scalars the way
yaml.v3 does for an ``interface{}`` target:

- booleans: only ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE``
  (``yes``, ``on``, ``y`` stay strings);
- null: ``~``, ``null``, ``Null``, ``NULL`` and the empty scalar;
- ints: Go's ``strconv.ParseInt(s, 0, 64)`` after dropping ``_``: decimal,
  ``0x``, ``0o``, ``0b``, and — kept by yaml.v3 "for compatibility" — YAML 1.1
  octal ``0777`` (= 511); ``08`` is not an int and becomes the float 8.0;
- floats: ``1.5``, ``1e3``, ``.inf``, ``.nan``; no sexagesimal, no timestamps
  (``2001-12-14`` stays a string).

Duplicate keys in one mapping are an error naming the file and line, as in
yaml.v3 ("mapping key "x" already defined at line N"). Keys brought in by a
merge key (``<<: *anchor``) may be overridden, as YAML intends.

A document whose anchors would expand past 200,000 nodes ("billion
laughs") is refused before it is built, as yaml.v3 refuses "excessive
aliasing".

Compose's own tags: ``!reset`` (drop what earlier files set) and ``!override``
(replace instead of merging) load as :class:`Reset` / :class:`Override`
wrappers that ``merge.py`` consumes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from dockyard.compose.errors import YamlError


@dataclass(frozen=True)
class Reset:
    """A value tagged ``!reset``: removes the attribute set by earlier files."""

    value: Any = None


@dataclass(frozen=True)
class Override:
    """A value tagged ``!override``: replaces the earlier value instead of merging."""

    value: Any = None


_INT_RE = re.compile(r"^[-+]?(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class ComposeLoader(yaml.SafeLoader):
    """SafeLoader with yaml.v3's scalar resolution, duplicate-key errors and compose tags."""

    yaml_implicit_resolvers: dict[Any, Any] = {}
    yaml_constructors = dict(yaml.SafeLoader.yaml_constructors)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise YamlError(
                        f"line {key_node.start_mark.line + 1}: invalid map key: {key!r}",
                        file=self.name,
                    ) from None
                if key in seen:
                    raise YamlError(
                        f"line {key_node.start_mark.line + 1}: mapping key {key!r} already "
                        f"defined at line {seen[key]}",
                        file=self.name,
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _add(tag: str, regexp: re.Pattern[str], first: str) -> None:
    ComposeLoader.add_implicit_resolver(tag, regexp, list(first))


_add("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF")
_add("tag:yaml.org,2002:int", _INT_RE, "-+0123456789")
_add("tag:yaml.org,2002:float", _FLOAT_RE, "-+0123456789.")
_add("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), "~nN")
ComposeLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])
_add("tag:yaml.org,2002:merge", re.compile(r"^<<$"), "<")


def _construct_bool(loader: ComposeLoader, node: Any) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _parse_int(text: str) -> int | None:
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    body = plain.lstrip("+-")
    low = body.lower()
    try:
        if low.startswith("0x"):
            return sign * int(body[2:], 16)
        if low.startswith("0o"):
            return sign * int(body[2:], 8)
        if low.startswith("0b"):
            return sign * int(body[2:], 2)
        if len(body) > 1 and body.startswith("0"):
            return sign * int(body, 8)  # Go's base-0 rule: a leading 0 means octal
        return sign * int(body, 10)
    except ValueError:
        return None


def _construct_int(loader: ComposeLoader, node: Any) -> int | float | str:
    text = str(loader.construct_scalar(node))
    value = _parse_int(text)
    if value is not None:
        return value
    try:  # "08", "09": not Go ints, but yaml.v3 then reads them as floats
        return float(text.replace("_", ""))
    except ValueError:
        return text


def _construct_float(loader: ComposeLoader, node: Any) -> float | str:
    text = str(loader.construct_scalar(node)).replace("_", "")
    low = text.lower()
    if low in (".inf", "+.inf"):
        return math.inf
    if low == "-.inf":
        return -math.inf
    if low == ".nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return text


def _construct_reset(loader: ComposeLoader, node: Any) -> Reset:
    if isinstance(node, yaml.MappingNode):
        return Reset(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Reset(loader.construct_sequence(node, deep=True))
    return Reset(None)


def _construct_override(loader: ComposeLoader, node: Any) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(_resolve_scalar(loader, node))


def _resolve_scalar(loader: ComposeLoader, node: Any) -> Any:
    tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    return loader.yaml_constructors[tag](loader, yaml.ScalarNode(tag, node.value))


ComposeLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
ComposeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
ComposeLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
ComposeLoader.add_constructor("!reset", _construct_reset)
ComposeLoader.add_constructor("!override", _construct_override)


# A document may reuse anchors, but not so much that expanding it explodes
# ("billion laughs"): yaml.v3 refuses "excessive aliasing" the same way.
_MAX_EXPANDED_NODES = 200_000
_MAX_DEPTH = 200  # compose files nest a dozen levels; later stages recurse too


def _check_aliasing(root: Any, filename: str) -> None:
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: Any) -> int:
        if len(visiting) > _MAX_DEPTH:
            raise YamlError("yaml: document nested too deeply", file=filename)
        if id(node) in visiting:
            line = node.start_mark.line + 1
            raise YamlError(f"yaml: line {line}: an anchor's value contains itself", file=filename)
        known = sizes.get(id(node))
        if known is not None:
            return known
        visiting.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        total = min(total, _MAX_EXPANDED_NODES + 1)
        visiting.discard(id(node))
        sizes[id(node)] = total
        return total

    if size(root) > _MAX_EXPANDED_NODES:
        raise YamlError("yaml: document contains excessive aliasing", file=filename)


def _key(key: Any) -> Any:
    # yaml.v3 decodes into map[string]any for compose: keys print as Go would.
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return str(key)
    return key


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    if isinstance(value, Reset):
        return Reset(_stringify_keys(value.value))
    if isinstance(value, Override):
        return Override(_stringify_keys(value.value))
    return value


def load_yaml(text: str, filename: str) -> Any:
    """Parse one compose document; raise :class:`YamlError` naming ``filename``."""
    loader = ComposeLoader(text)
    loader.name = filename
    try:
        node = loader.get_single_node()
        data = None
        if node is not None:
            _check_aliasing(node, filename)
            data = loader.construct_document(node)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or str(e)
        if e.context:
            problem = f"{e.context}; {problem}"
        raise YamlError(f"yaml: {where}{problem}", file=filename) from None
    except yaml.YAMLError as e:
        raise YamlError(f"yaml: {e}", file=filename) from None
    except RecursionError:
        raise YamlError("yaml: document nested too deeply", file=filename) from None
    finally:
        loader.dispose()
    return _stringify_keys(data)


def load_compose_yaml(text: str, filename: str) -> dict[str, Any]:
    """Load a compose file's top-level mapping (an empty file is an error, as in compose)."""
    data = load_yaml(text, filename)
    if data is None:
        raise YamlError("empty compose file", file=filename)
    if not isinstance(data, dict):
        raise YamlError("Top-level object must be a mapping", file=filename)
    return data
