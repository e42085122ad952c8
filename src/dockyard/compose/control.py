"""``pause``, ``unpause``, ``wait``: act on a project's containers by label."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dockyard.client import APIError, Client
from dockyard.compose.engine_api import name_of, project_containers
from dockyard.compose.errors import EngineCommandError

Say = Callable[[str, str], None]


def pause(client: Client, project: str, services: Iterable[str], say: Say) -> None:
    for c in project_containers(client, project, services=services, all=False):
        if c.get("State") == "paused":
            continue
        try:
            client.pause(c["Id"])
        except APIError as e:
            raise EngineCommandError(f"pause {name_of(c)}: {e.message}") from None
        say(f"Container {name_of(c)}", "Paused")


def unpause(client: Client, project: str, services: Iterable[str], say: Say) -> None:
    for c in project_containers(client, project, services=services, all=False):
        if c.get("State") != "paused":
            continue
        try:
            client.unpause(c["Id"])
        except APIError as e:
            raise EngineCommandError(f"unpause {name_of(c)}: {e.message}") from None
        say(f"Container {name_of(c)}", "Unpaused")


def wait(client: Client, project: str, services: list[str]) -> list[tuple[str, int]]:
    """Block until every container of ``services`` has stopped; (name, exit code) each."""
    containers = project_containers(client, project, services=services)
    if not containers:
        raise EngineCommandError(f"no containers for services: {', '.join(services)}")
    out = []
    for c in containers:
        try:
            code = int(client.wait(c["Id"]).get("StatusCode", 0))
        except APIError as e:
            raise EngineCommandError(f"wait {name_of(c)}: {e.message}") from None
        out.append((name_of(c), code))
    return out
