"""Checks every backend makes before touching anything: the same bad input
gets the same clear error from sqlite and from etcd."""

from __future__ import annotations

from . import MAX_VALUE_BYTES, ValueTooLargeError


def key(k: object) -> None:
    if not isinstance(k, str) or not k:
        raise ValueError(f"store key: expected a non-empty string, got {k!r}")


def value(k: str, v: object) -> None:
    if not isinstance(v, bytes | bytearray | memoryview):
        raise ValueError(f"store value for {k}: expected bytes, got {type(v).__name__}")
    if len(v) > MAX_VALUE_BYTES:
        raise ValueTooLargeError(
            f"value for {k} is {len(v)} bytes, over the limit of {MAX_VALUE_BYTES}"
        )


def limit(n: object) -> None:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"list limit: expected an integer >= 0, got {n!r}")


def ttl(t: object) -> None:
    if not isinstance(t, int) or isinstance(t, bool) or t <= 0:
        raise ValueError(f"lease ttl: expected a positive number of seconds, got {t!r}")


def prefix(p: object) -> None:
    if not isinstance(p, str):
        raise ValueError(f"store prefix: expected a string, got {p!r}")
