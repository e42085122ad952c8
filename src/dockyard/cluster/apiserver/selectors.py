"""Label and field selectors, parsed from their query-string form.

Label selectors take every operator of apimachinery's ``labels.Parse``:
``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``
(and ``k>1``/``k<1``, which compare integers). Field selectors take ``=``,
``==`` and ``!=`` on the fields a resource supports (``resources.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest
from .resources import ResourceType

Matcher = Callable[[dict[str, Any]], bool]

_KEY = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_terms(text: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t.strip() for t in terms if t.strip()]


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key):
        raise BadRequest(
            f'unable to parse requirement: invalid label key "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            f"alphanumeric character (selector {text!r})"
        )
    return key


def _check_value(value: str, text: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise BadRequest(
            f'unable to parse requirement: invalid label value: "{value}": a valid label must '
            "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            f"start and end with an alphanumeric character (selector {text!r})"
        )
    return value


_SET = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_CMP = re.compile(r"^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$")


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector, as apimachinery's ``labels.Requirement``."""

    key: str
    op: str  # in notin = != exists !exists gt lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.key)
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op in ("in", "="):
            return value in self.values
        if self.op in ("notin", "!="):
            return value not in self.values
        return _int_cmp(value, int(next(iter(self.values))), ">" if self.op == "gt" else "<")


def parse_requirements(text: str) -> list[Requirement]:
    """The terms of a label selector; BadRequest on a malformed one."""
    reqs: list[Requirement] = []
    for term in _split_terms(text):
        m = _SET.match(term)
        if m:
            key = _check_key(m.group(1), text)
            values = frozenset(_check_value(v.strip(), text) for v in m.group(3).split(","))
            reqs.append(Requirement(key, m.group(2), values))
            continue
        if term.startswith("!"):
            reqs.append(Requirement(_check_key(term[1:].strip(), text), "!exists"))
            continue
        m = _CMP.match(term)
        if m:
            key, op, value = _check_key(m.group(1), text), m.group(2), m.group(3).strip()
            if op in ("<", ">"):
                try:
                    int(value)
                except ValueError:
                    raise BadRequest(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must "
                        f"be an integer (selector {text!r})"
                    ) from None
                reqs.append(Requirement(key, "gt" if op == ">" else "lt", frozenset([value])))
                continue
            _check_value(value, text)
            reqs.append(Requirement(key, "!=" if op == "!=" else "=", frozenset([value])))
            continue
        reqs.append(Requirement(_check_key(term, text), "exists"))
    return reqs


def parse_labels(text: str) -> Matcher:
    """A predicate on an object's labels; BadRequest on a malformed selector."""
    reqs = parse_requirements(text)

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return match


def _int_cmp(value: str | None, bound: int, op: str) -> bool:
    try:
        n = int(value) if value is not None else None
    except ValueError:
        return False
    if n is None:
        return False
    return n > bound if op == ">" else n < bound


def _field_value(obj: dict[str, Any], path: tuple[str, ...]) -> str:
    cur: Any = obj
    for part in path:
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_fields(text: str, rtype: ResourceType) -> Matcher:
    """A predicate for ``fieldSelector``; BadRequest for an unsupported field."""
    supported: dict[str, tuple[str, ...]] = {
        "metadata.name": ("metadata", "name"),
        "metadata.namespace": ("metadata", "namespace"),
        **dict(rtype.field_selectors),
    }
    terms: list[tuple[tuple[str, ...], bool, str]] = []  # (path, negated, value)
    for term in _split_terms(text):
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", term)
        if not m:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in supported:
            raise BadRequest(
                f'field label not supported: {field}', kind=rtype.kind, group=rtype.group
            )
        terms.append((supported[field], op == "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, path) == value) != negated for path, negated, value in terms)

    return match
