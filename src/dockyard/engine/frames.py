"""The daemon ↔ supervisor wire: frames on one unix stream socket.

Each frame is a 10-byte header ``!BBII`` — kind, stream, channel, length —
then ``length`` bytes. Channel 0 is the container's init; exec processes
get channels 1, 2, … chosen by the daemon.

==========  ======  =========================================================
kind        stream  payload
==========  ======  =========================================================
DATA (0)    0       daemon → supervisor: stdin bytes; empty = close stdin
DATA (0)    1, 2    supervisor → daemon: stdout / stderr bytes (tty: all on 1)
CTRL (1)    0       JSON. To the supervisor: ``{"op": "exec"|"resize", …}``.
                    From it: ``{"event": "started"|"error"|"exec-started"|
                    "exec-error"|"exit"|"hello", "ch": N, …}``
==========  ======  =========================================================

The daemon holds one such connection per running container: first the
socketpair it created the supervisor with, after a daemon restart a new
connection to ``<run-dir>/supervisor.sock`` (the supervisor then answers
``hello`` with its state). Stdlib only: the supervisor imports this.
"""

from __future__ import annotations

import json
import struct

HEADER = struct.Struct("!BBII")
DATA = 0
CTRL = 1


def data(stream: int, channel: int, payload: bytes) -> bytes:
    return HEADER.pack(DATA, stream, channel, len(payload)) + payload


def ctrl(message: dict[str, object]) -> bytes:
    payload = json.dumps(message).encode()
    return HEADER.pack(CTRL, 0, 0, len(payload)) + payload


class Parser:
    """Incremental parser: feed bytes, get complete frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[int, int, int, bytes]]:
        self._buf += chunk
        out = []
        while len(self._buf) >= HEADER.size:
            kind, stream, channel, length = HEADER.unpack_from(self._buf)
            end = HEADER.size + length
            if len(self._buf) < end:
                break
            out.append((kind, stream, channel, bytes(self._buf[HEADER.size:end])))
            del self._buf[:end]
        return out
