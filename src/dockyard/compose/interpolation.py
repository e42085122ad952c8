"""Variable interpolation in compose files, with docker compose's syntax.

    $$              a literal "$"
    $VAR  ${VAR}    the value, or "" with a warning when VAR is unset
    ${VAR:-def}     def when VAR is unset or empty      ${VAR-def}   def when unset
    ${VAR:?msg}     error when VAR is unset or empty    ${VAR?msg}   error when unset
    ${VAR:+alt}     alt when VAR is set and non-empty   ${VAR+alt}   alt when set

Defaults, alternatives and messages are themselves interpolated, so
``${A:-${B:-x}}`` nests. Only values are interpolated, never mapping keys
(compose-go's ``recursiveInterpolate`` walks values only). A ``$`` followed
by anything else is kept as is; ``${`` without a valid name and closing
``}`` is an "invalid template" error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from dockyard.compose.errors import InterpolationError
from dockyard.compose.yamlload import Override, Reset

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class _Failure(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing a ``${`` whose body starts at ``start``, nesting aware."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def substitute(
    text: str, env: Mapping[str, str], warn: Callable[[str], None] | None = None
) -> str:
    """Interpolate one string; raise ``_Failure`` with compose-go's wording on errors."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if j + 1 >= n:
            out.append("$")
            break
        nxt = text[j + 1]
        if nxt == "$":
            out.append("$")
            i = j + 2
            continue
        if nxt == "{":
            end = _closing_brace(text, j + 2)
            if end < 0:
                raise _Failure(f"Invalid template: {json.dumps(text)}")
            out.append(_braced(text[j + 2 : end], text, env, warn))
            i = end + 1
            continue
        m = _NAME.match(text, j + 1)
        if m:
            out.append(_lookup(m.group(0), env, warn))
            i = m.end()
            continue
        out.append("$")
        i = j + 1
    return "".join(out)


def _lookup(name: str, env: Mapping[str, str], warn: Callable[[str], None] | None) -> str:
    value = env.get(name)
    if value is None:
        if warn is not None:
            warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
        return ""
    return value


def _braced(
    body: str, whole: str, env: Mapping[str, str], warn: Callable[[str], None] | None
) -> str:
    m = _NAME.match(body)
    if not m:
        raise _Failure(f"Invalid template: {json.dumps(whole)}")
    name = m.group(0)
    rest = body[m.end() :]
    if not rest:
        return _lookup(name, env, warn)
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise _Failure(f"Invalid template: {json.dumps(whole)}")
    arg = rest[len(op) :]
    value = env.get(name)
    colon = op.startswith(":")
    present = value is not None and (value != "" or not colon)
    kind = op[-1]
    if kind == "-":
        return value if present and value is not None else substitute(arg, env, warn)
    if kind == "+":
        return substitute(arg, env, warn) if present else ""
    # "?": required
    if present and value is not None:
        return value
    message = substitute(arg, env, warn)
    detail = f"required variable {name} is missing a value"
    raise _Failure(f"{detail}: {message}" if message else detail)


def interpolate(
    data: Any,
    env: Mapping[str, str],
    *,
    file: str | None = None,
    warn: Callable[[str], None] | None = None,
    path: str = "",
) -> Any:
    """Return ``data`` with every string value interpolated; errors name file and field path."""
    if isinstance(data, str):
        try:
            return substitute(data, env, warn)
        except _Failure as e:
            raise InterpolationError(e.message, file=file, path=path or None) from None
    if isinstance(data, dict):
        return {
            k: interpolate(v, env, file=file, warn=warn, path=f"{path}.{k}" if path else str(k))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [
            interpolate(v, env, file=file, warn=warn, path=f"{path}[{i}]")
            for i, v in enumerate(data)
        ]
    if isinstance(data, Reset):
        return Reset(interpolate(data.value, env, file=file, warn=warn, path=path))
    if isinstance(data, Override):
        return Override(interpolate(data.value, env, file=file, warn=warn, path=path))
    return data
