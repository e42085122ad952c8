"""``.dockerignore``, with Docker's rules (moby's ``patternmatcher``).

Each non-comment line is a pattern, cleaned like Go's ``filepath.Clean``
and anchored at the context root (a leading ``/`` changes nothing). ``*``
and ``?`` never cross a ``/``; ``**`` matches any number of directories
(zero included); ``[...]`` and ``\\`` escapes as in ``filepath.Match``; a
``!`` line re-includes what earlier lines excluded. The last pattern that
matches a path, or any of its parent directories, decides. These differ
from gitignore's rules (no basename-anywhere matching), so no gitignore
library is used.

``Dockerfile.dockerignore`` beside the Dockerfile (``<name>.dockerignore``)
wins over the context's ``.dockerignore``.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass

from .errors import ContextError


@dataclass(frozen=True)
class Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def _regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):  # "**/": zero or more directories
                    i += 1
                    out.append("(.*/)?")
                    continue
                if i >= n and out[-1].endswith("/"):  # "/**" at the end: everything under
                    out.append(".*")
                    continue
                out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= n:
                raise ContextError(f".dockerignore: pattern {pattern!r} ends with a bare escape")
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ContextError(f".dockerignore: syntax error in pattern {pattern!r}: unclosed '['")
            body = pattern[i + 1:end]
            if body.startswith("^"):
                body = "!" + body[1:]
            cls = body.replace("\\", "\\\\")
            if cls.startswith("!"):
                cls = "^" + cls[1:]
            out.append(f"[{cls}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    try:
        return re.compile("".join(out))
    except re.error as e:
        raise ContextError(f".dockerignore: syntax error in pattern {pattern!r}: {e}") from None


def parse_patterns(text: str) -> list[Pattern]:
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        # Go's filepath.Clean, then anchored at the root: "/x" is "x"; "/" or "."
        # is the whole context
        line = posixpath.normpath(line).lstrip("/") or "."
        out.append(Pattern(line, exclusion, _regex(line)))
    return out


class Matcher:
    """``matches(rel_path)``: is this path (relative, ``/``-separated) ignored?"""

    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns

    def matches(self, rel: str) -> bool:
        if not self.patterns:
            return False
        rel = posixpath.normpath(rel).lstrip("/")
        parents = []
        p = posixpath.dirname(rel)
        while p:
            parents.append(p)
            p = posixpath.dirname(p)
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue  # only a pattern that could flip the result matters
            hit = pat.text == "." or bool(pat.regex.match(rel)) or any(pat.regex.match(q) for q in parents)
            if hit:
                matched = not pat.exclusion
        return matched

    def could_reinclude_under(self, rel: str) -> bool:
        """Whether a ``!`` pattern may re-include something below ``rel`` (so an
        ignored directory must still be walked). Conservative: any exception
        pattern means yes; each file below is still matched on its own."""
        return any(p.exclusion for p in self.patterns)


def load(context: str, dockerfile_path: str | None) -> Matcher:
    """The matcher for a build: ``<Dockerfile>.dockerignore`` or ``.dockerignore``."""
    candidates = []
    if dockerfile_path:
        candidates.append(dockerfile_path + ".dockerignore")
    candidates.append(os.path.join(context, ".dockerignore"))
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as f:
                return Matcher(parse_patterns(f.read()))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as e:
            raise ContextError(f"cannot read {path}: {e}") from None
    return Matcher([])
