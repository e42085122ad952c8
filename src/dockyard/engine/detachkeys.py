"""Detach keys (``--detach-keys``, ``detachKeys=``): one parser for the engine and its clients.

The engine ends an attach or exec session when the client's input carries
the sequence; our clients (``client.detach``) watch for the same bytes, so
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
