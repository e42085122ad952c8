"""Detach keys (``--detach-keys``, ``detachKeys=``): one parser for the engine and its clients.

The engine ends an attach or exec session (with a tty) when the client's
input carries the sequence (``DetachFilter``); our clients (``client.detach``) watch for the same bytes, so
both sides must read a spec alike. A module of its own, importing nothing,
so the CLI can use it without loading the engine.
"""

from __future__ import annotations

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q
EXPECTED = "a single character or ctrl-<letter>, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_"


def parse_detach_keys(spec: str) -> bytes:
    """Docker's syntax: comma-separated keys, ``a`` or ``ctrl-p`` …; ``ValueError`` naming
    the bad key."""
    out = bytearray()
    for part in spec.split(","):
        p = part.strip()
        if len(p) == 1:
            out.append(ord(p))
            continue
        ch = p[5:] if p.startswith("ctrl-") else ""
        if len(ch) == 1 and ch == "@":
            out.append(0)
        elif len(ch) == 1 and ch.isascii() and ch.isalpha():
            out.append(ord(ch.lower()) - ord("a") + 1)
        elif len(ch) == 1 and ch in "[\\]^_":
            out.append(ord(ch) - 64)
        else:
            raise ValueError(f"invalid detach keys {spec!r}: unknown key {p!r} (expected "
                             f"comma-separated keys, each {EXPECTED})")
    return bytes(out)


class DetachFilter:
    """A session's input with the detach sequence held back: a partial match is
    kept until the next byte decides, and a byte that breaks it starts no new one
    (as Docker's escape proxy reads it)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(the bytes to pass on, whether the sequence is complete: the session ends there)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[self._matched]:
                self._matched += 1
                if self._matched == len(self.keys):
                    self._matched = 0
                    return bytes(out), True
                continue
            if self._matched:
                out += self.keys[:self._matched]
                self._matched = 0
            out.append(b)
        return bytes(out), False
