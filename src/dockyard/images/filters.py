"""Docker's image filters: ``dangling``, ``reference``, ``label``, ``before``,
``since``, ``until`` (``image ls``, ``image prune``).

``reference`` patterns are Go's ``path.Match`` (``*`` and ``?`` stop at
``/``), tried on each name's familiar form with and without its tag, as
Docker does. ``until`` takes a UNIX time, an RFC 3339 time or a Go duration
before now (``10m``, ``2h``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

from . import inspect as shapes
from .errors import InvalidFilterError
from .model import Image
from .reference import parse


def go_match(pattern: str, text: str) -> bool:
    """Go's ``path.Match``: ``*`` and ``?`` do not cross ``/``."""
    regex = ""
    for part in re.split(r"(\*|\?|\[[^\]]*\])", pattern):
        if part == "*":
            regex += "[^/]*"
        elif part == "?":
            regex += "[^/]"
        elif part.startswith("[") and part.endswith("]"):
            regex += "[" + ("^" + part[2:-1] if part[1:2] == "^" else part[1:-1]) + "]"
        else:
            regex += re.escape(part)
    return re.fullmatch(regex, text) is not None


def ref_matches(familiar: str, patterns: Sequence[str]) -> bool:
    """Docker's ``reference`` filter: the pattern against the familiar name, with or without tag."""
    ref = parse(familiar, default_tag=False)
    return any(go_match(p, ref.familiar_name()) or go_match(p, ref.familiar()) for p in patterns)


def match_labels(labels: Mapping[str, str], wanted: Sequence[str], *, any_: bool = False) -> bool:
    results = []
    for w in wanted:
        key, eq, value = w.partition("=")
        results.append(key in labels and (not eq or labels[key] == value))
    return (any(results) if any_ else all(results)) if wanted else True


def match_filters(
    img: Image, filters: Mapping[str, Sequence[str]], before: Sequence[float], since: Sequence[float]
) -> bool:
    for value in filters.get("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidFilterError(f"invalid filter 'dangling={value}': expected true or false")
        if (value.lower() in ("true", "1")) != img.dangling:
            return False
    patterns = filters.get("reference", [])
    if patterns and not any(ref_matches(r.familiar(), patterns) for r in img.references):
        return False
    labels = (img.config.config.labels if img.config.config else None) or {}
    if not match_labels(labels, filters.get("label", [])):
        return False
    created = shapes.created_time(img)
    if any(created >= b for b in before) or any(created <= s for s in since):
        return False
    until = [parse_until(u) for u in filters.get("until", [])]
    return not any(created >= u for u in until)


def parse_until(value: str) -> float:
    """``until`` values: a UNIX time, an RFC 3339 time, or a Go duration ago (``10m``, ``2h``)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if m:
        mult = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        return time.time() - float(m.group(1)) * mult
    try:
        return float(value)
    except ValueError:
        pass
    t = shapes.parse_time(value)
    if t:
        return t
    raise InvalidFilterError(f"invalid filter 'until={value}': expected a timestamp or a duration")

