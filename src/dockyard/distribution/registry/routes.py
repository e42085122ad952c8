"""The URL grammar of ``/v2/`` and the access each endpoint needs.

Repository names contain slashes, so the path is matched here, in order,
rather than by aiohttp's router (as distribution's own router does): the
fixed suffix (``/blobs/uploads/…``, ``/manifests/…``) decides, and the rest
is the name, which is then checked against the grammar (NAME_INVALID).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..names import check_name
from .auth import Access

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("base", re.compile(r"")),
    ("catalog", re.compile(r"_catalog")),
    ("tags", re.compile(r"(?P<name>.+)/tags/list")),
    ("manifest", re.compile(r"(?P<name>.+)/manifests/(?P<arg>[^/]+)")),
    ("uploads", re.compile(r"(?P<name>.+)/blobs/uploads/?")),
    ("upload", re.compile(r"(?P<name>.+)/blobs/uploads/(?P<arg>[^/]+)")),
    ("blob", re.compile(r"(?P<name>.+)/blobs/(?P<arg>[^/]+)")),
    ("referrers", re.compile(r"(?P<name>.+)/referrers/(?P<arg>[^/]+)")),
]

PULL = ("pull",)
PUSH = ("pull", "push")
DELETE = ("delete",)

# (route, method) -> actions needed on the repository ("registry" for the catalog)
ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("base", "GET"): (), ("base", "HEAD"): (),
    ("catalog", "GET"): ("*",),
    ("tags", "GET"): PULL,
    ("manifest", "GET"): PULL, ("manifest", "HEAD"): PULL,
    ("manifest", "PUT"): PUSH, ("manifest", "DELETE"): DELETE,
    ("uploads", "POST"): PUSH,
    ("upload", "GET"): PUSH, ("upload", "PATCH"): PUSH,
    ("upload", "PUT"): PUSH, ("upload", "DELETE"): PUSH,
    ("blob", "GET"): PULL, ("blob", "HEAD"): PULL, ("blob", "DELETE"): DELETE,
    ("referrers", "GET"): PULL,
}


@dataclass(frozen=True)
class Route:
    kind: str
    name: str  # "" for base and catalog
    arg: str  # reference, digest or upload uuid; "" when none

    def access(self, method: str) -> list[Access] | None:
        """What the request needs; None when the method is not served here."""
        actions = ACTIONS.get((self.kind, method))
        if actions is None:
            return None
        if self.kind == "base":
            return []
        if self.kind == "catalog":
            return [Access("registry", "catalog", actions)]
        return [Access("repository", self.name, actions)]


def match(tail: str) -> Route | None:
    """Route the part of the path after ``/v2/``; NAME_INVALID for a bad name."""
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(tail)
        if m:
            groups = m.groupdict()
            name = groups.get("name") or ""
            if name:
                check_name(name)
            return Route(kind, name, groups.get("arg") or "")
    return None
