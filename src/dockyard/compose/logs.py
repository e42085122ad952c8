"""``logs`` (and attached ``up``): containers' output, each line prefixed ``name  | ``.

Non-tty containers stream Docker's multiplexed frames (8-byte headers);
they are split into lines here so that several containers' output can
interleave line by line under a lock.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dockyard.client import APIError, Client
from dockyard.compose.engine_api import name_of


def frames(chunks: Iterable[bytes], tty: bool) -> Iterator[tuple[int, bytes]]:
    """(stream, bytes) of a logs body: raw with a tty, else demultiplexed."""
    buf = b""
    for chunk in chunks:
        if tty:
            yield 1, chunk
            continue
        buf += chunk
        while len(buf) >= 8:
            stream, size = struct.unpack(">BxxxI", buf[:8])
            if len(buf) < 8 + size:
                break
            yield stream, buf[8:8 + size]
            buf = buf[8 + size:]


def container_lines(client: Client, cid: str, *, follow: bool, tail: str = "all",
                    timestamps: bool = False) -> Iterator[tuple[int, str]]:
    """(stream, line) of one container, without the newline."""
    tty = bool(client.inspect(cid)["Config"].get("Tty"))
    pending = {1: b"", 2: b""}
    for stream, data in frames(client.logs(cid, stdout=True, stderr=True, follow=follow,
                                           tail=tail, timestamps=timestamps), tty):
        key = 2 if stream == 2 else 1
        pending[key] += data
        *lines, pending[key] = pending[key].split(b"\n")
        for line in lines:
            yield key, line.rstrip(b"\r").decode(errors="replace")
    for key, rest in pending.items():
        if rest:
            yield key, rest.decode(errors="replace")


def print_logs(client: Client, containers: list[dict[str, Any]], emit: Callable[[str], None], *,
               follow: bool = False, tail: str = "all", timestamps: bool = False,
               prefix: bool = True) -> None:
    """Every container's lines through ``emit``; with ``follow`` until all streams end."""
    width = max((len(name_of(c)) for c in containers), default=0)
    lock = threading.Lock()

    def one(c: dict[str, Any]) -> None:
        head = f"{name_of(c).ljust(width)}  | " if prefix else ""
        try:
            for _, line in container_lines(client, c["Id"], follow=follow, tail=tail,
                                           timestamps=timestamps):
                with lock:
                    emit(head + line)
        except APIError:
            pass  # removed while we read: its stream is over

    if not follow:
        for c in containers:
            one(c)
        return
    threads = [threading.Thread(target=one, args=(c,), daemon=True) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
