"""Docker's multiplexed stream: ``[stream, 0, 0, 0, size(4, big-endian)]`` + payload.

Used for attach, exec and logs when the container has no tty; with a tty
the bytes go raw. Stream 0 is stdin, 1 stdout, 2 stderr.
"""

from __future__ import annotations

import struct

_HEADER = struct.Struct(">BxxxI")
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def frame(stream: int, data: bytes) -> bytes:
    return _HEADER.pack(stream, len(data)) + data
