"""Container events, Docker's ``/events``: a ring buffer and live subscribers.

Each event is Docker's JSON shape (``Type``, ``Action``, ``Actor`` with the
container's name, image and labels as attributes, ``time``/``timeNano``,
plus the legacy ``status``/``id``/``from``). The last ``KEEP`` events are
kept in memory so ``--since`` can replay them; a subscriber gets an
``asyncio.Queue`` of new ones. Filters as Docker's: ``type``, ``event``,
``container`` (id, id prefix or name), ``image``, ``label``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidParameter

KEEP = 1024
FILTERS = ("type", "event", "container", "image", "label")


class EventBus:
    def __init__(self) -> None:
        self.recent: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def emit(self, action: str, cid: str, name: str, image: str,
             labels: Mapping[str, str] | None = None, **extra: str) -> None:
        ns = time.time_ns()
        attrs = {**(labels or {}), "image": image, "name": name.lstrip("/"), **extra}
        ev = {"status": action, "id": cid, "from": image, "Type": "container",
              "Action": action, "Actor": {"ID": cid, "Attributes": attrs}, "scope": "local",
              "time": ns // 1_000_000_000, "timeNano": ns}
        self.recent.append(ev)
        for q in self.subscribers:
            q.put_nowait(ev)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self.subscribers.discard(q)


def check_filters(filters: Mapping[str, Sequence[str]]) -> None:
    for k in filters:
        if k not in FILTERS:
            raise InvalidParameter(f"invalid filter '{k}'")


def matches(ev: Mapping[str, Any], filters: Mapping[str, Sequence[str]]) -> bool:
    attrs = ev["Actor"]["Attributes"]
    if filters.get("type") and ev["Type"] not in filters["type"]:
        return False
    if filters.get("event") and ev["Action"].split(":")[0] not in filters["event"]:
        return False
    if filters.get("container") and not any(
            ev["id"].startswith(c) or attrs.get("name") == c for c in filters["container"]):
        return False
    if filters.get("image") and attrs.get("image") not in filters["image"]:
        return False
    for lab in filters.get("label", []):
        k, sep, v = lab.partition("=")
        if k not in attrs or (sep and attrs[k] != v):
            return False
    return True
