"""``events``: the engine's container events for this project's containers.

Filtered by the ``com.docker.compose.project`` label on the engine side
(``GET /events?filters=``), by service here; printed as docker compose does:
``--json`` one object per line (``time``, ``type``, ``action``, ``id``,
``service``, ``attributes``), else ``<time> container <action> <id> (k=v, …)``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable
from typing import Any

from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose.errors import EngineCommandError


def _time(ev: dict[str, Any]) -> datetime.datetime:
    ns = int(ev.get("timeNano") or int(ev.get("time") or 0) * 1_000_000_000)
    return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)


def render(ev: dict[str, Any], as_json: bool) -> str:
    actor = ev.get("Actor") or {}
    attrs = {k: v for k, v in (actor.get("Attributes") or {}).items()
             if not k.startswith("com.docker.compose.")}
    service = (actor.get("Attributes") or {}).get(L.SERVICE, "")
    when = _time(ev)
    if as_json:
        return json.dumps({"time": when.isoformat().replace("+00:00", "Z"),
                           "type": ev.get("Type", "container"), "action": ev.get("Action", ""),
                           "id": actor.get("ID", ev.get("id", "")), "service": service,
                           "attributes": attrs})
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    return (f"{when.strftime('%Y-%m-%d %H:%M:%S.%f')} {ev.get('Type', 'container')} "
            f"{ev.get('Action', '')} {actor.get('ID', '')} ({pairs})")


def stream(client: Client, project: str, services: Iterable[str], emit: Callable[[str], None],
           *, as_json: bool = False, since: str | None = None,
           until: str | None = None) -> None:
    wanted = set(services)
    try:
        for ev in client.events({"type": ["container"], "label": [f"{L.PROJECT}={project}"]},
                                since=since, until=until):
            attrs = (ev.get("Actor") or {}).get("Attributes") or {}
            if wanted and attrs.get(L.SERVICE) not in wanted:
                continue
            emit(render(ev, as_json))
    except APIError as e:
        raise EngineCommandError(f"events: {e.message}") from None
