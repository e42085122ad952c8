"""API versions we serve and how a request's version is read from its path."""

from __future__ import annotations

import re

API_VERSION = "1.50"
MIN_API_VERSION = "1.24"
_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")


def as_tuple(v: str) -> tuple[int, int]:
    major, _, minor = v.partition(".")
    return int(major), int(minor or 0)


def split(path: str) -> tuple[str | None, str]:
    """``/v1.47/containers/json`` → ("1.47", "/containers/json")."""
    m = _PREFIX.match(path)
    if m is None:
        return None, path
    return m.group(1), m.group(2)


def check(version: str) -> str | None:
    """Docker's error text for an unsupported version, or None."""
    v = as_tuple(version)
    if v > as_tuple(API_VERSION):
        return (f"client version {version} is too new. Maximum supported API version is "
                f"{API_VERSION}")
    if v < as_tuple(MIN_API_VERSION):
        return (f"client version {version} is too old. Minimum supported API version is "
                f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    return None
