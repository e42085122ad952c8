"""Docker's JSON progress messages, handed to a callback.

The messages are the objects dockerd streams from ``POST /images/create``
and ``POST /images/{name}/push`` (one JSON object per line), so the engine
can forward them unchanged and the docker CLI draws its bars::

    {"status": "Pulling from library/busybox", "id": "latest"}
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "9ad63333ebc9"}
    {"status": "Downloading", "progressDetail": {"current": 524288, "total": 2152262},
     "progress": "[============>      ]  524.3kB/2.152MB", "id": "9ad63333ebc9"}
    {"status": "Pull complete", "progressDetail": {}, "id": "9ad63333ebc9"}
    {"status": "Digest: sha256:…"}
    {"status": "Status: Downloaded newer image for busybox:latest"}

Layer ids are the first 12 hex digits of the blob digest. The callback is
called from worker threads, one message at a time (a lock serialises them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]
Callback = Callable[[Message], None]

_BAR = 50
_EVERY = 0.1  # seconds between two byte-progress messages of one layer


def short_id(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def human(n: float) -> str:
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def bar(current: int, total: int) -> str:
    """The ``progress`` string docker's jsonmessage renders."""
    if total <= 0:
        return f"{human(current):>8}"
    filled = min(_BAR, int(_BAR * current / total))
    arrow = ">" if filled < _BAR else ""
    return f"[{'=' * filled}{arrow}{' ' * (_BAR - filled - len(arrow))}] {human(current):>8}/{human(total)}"


class Progress:
    """Thread-safe emitter of progress messages (a no-op without a callback)."""

    def __init__(self, callback: Callback | None = None) -> None:
        self._cb = callback
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self.messages: list[Message] = []  # kept for callers who read them afterwards

    def emit(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)
            if self._cb is not None:
                self._cb(message)

    def status(self, status: str, id: str | None = None) -> None:
        msg: Message = {"status": status}
        if id is not None:
            msg["id"] = id
        self.emit(msg)

    def layer(self, status: str, digest: str) -> None:
        self.emit({"status": status, "progressDetail": {}, "id": short_id(digest)})

    def bytes(self, status: str, digest: str, current: int, total: int, *, force: bool = False) -> None:
        key = status + digest
        now = time.monotonic()
        if not force and now - self._last.get(key, 0.0) < _EVERY and current < total:
            return
        self._last[key] = now
        self.emit({"status": status, "progressDetail": {"current": current, "total": total},
                   "progress": bar(current, total), "id": short_id(digest)})

    def aux(self, status: str, aux: dict[str, Any]) -> None:
        self.emit({"status": status, "progressDetail": {}, "aux": aux})
