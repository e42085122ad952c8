"""Reading input streams as their data arrives.

``BufferedReader.read(n)`` on a pipe blocks until all ``n`` bytes (or EOF)
are there; ``load`` and ``import`` read stdin through ``Available`` so
each piece is stored as it arrives (and a ``kill -9`` mid-stream finds the
work done so far in an ingest, for the cleanup to collect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO


@dataclass(frozen=True, slots=True)
class FileRange:
    """``size`` bytes of the open regular file ``fd`` at ``offset``: a blob
    inside a seekable archive, which ``ImageService.write_blob`` copies
    without reading it through Python."""

    fd: int
    offset: int
    size: int


class Available:
    """``read(n)`` that returns what is there (``read1``), at most ``n`` bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self._read = getattr(raw, "read1", raw.read)

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._read(n)
        return data


class Peekable:
    """``Available`` with ``peek(n)`` for magic-byte detection (and no hashing,
    unlike ``snapshot.compression.HashingSource``: an archive's own digest is
    not needed, only its blobs')."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = Available(raw)
        self._pending = b""

    def peek(self, n: int) -> bytes:
        while len(self._pending) < n:
            chunk = self._raw.read(n - len(self._pending))
            if not chunk:
                break
            self._pending += chunk
        return self._pending[:n]

    def read(self, n: int = -1) -> bytes:
        if self._pending:
            data = self._pending if n < 0 else self._pending[:n]
            self._pending = self._pending[len(data):]
            return data
        return self._raw.read(n)


class Bounded:
    """At most ``limit`` bytes from ``raw``, then an error: decompression bombs
    stop at the configured size instead of filling the disk."""

    def __init__(self, raw: Any, limit: int, error: Any) -> None:
        self._raw = raw
        self._left = limit
        self._limit = limit
        self._error = error

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        self._left -= len(data)
        if self._left < 0:
            raise self._error(
                f"uncompressed input exceeds the limit of {self._limit} bytes "
                f"(a decompression bomb?)"
            )
        return data
