"""``down``, ``stop``, ``start``, ``restart``, ``kill``, ``rm``: a project's containers by label.

They find containers by ``com.docker.compose.project`` (and ``.service``),
never by name, so they act on what a half-failed ``up`` left as well.
``stop``/``down`` go in reverse dependency order, ``start`` in dependency
order awaiting ``depends_on`` conditions, as ``up`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose.engine_api import (
    name_of,
    project_containers,
    project_networks,
    project_volumes,
    wait_condition,
)
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.model import Project
from dockyard.compose.planner import dependency_levels

Say = Callable[[str, str], None]


def _by_level(project: Project, containers: list[dict[str, Any]],
              reverse: bool) -> list[list[dict[str, Any]]]:
    """Containers grouped by dependency level (unknown services last when stopping)."""
    levels = dependency_levels(project) if project.services else []
    rank = {name: i for i, level in enumerate(levels) for name in level}
    groups: dict[int, list[dict[str, Any]]] = {}
    for c in containers:
        groups.setdefault(rank.get(c["Labels"].get(L.SERVICE, ""), -1), []).append(c)
    order = sorted(groups, reverse=reverse)
    if reverse and -1 in groups:  # orphans have no place in the graph: stop them first
        order.remove(-1)
        order.insert(0, -1)
    return [groups[k] for k in order]


def _api(what: str, c: dict[str, Any], fn: Callable[..., object], **kw: Any) -> None:
    try:
        fn(c["Id"], **kw)
    except APIError as e:
        raise EngineCommandError(f"{what} {name_of(c)}: {e.message}") from None


def stop(client: Client, project: Project, services: Iterable[str], say: Say,
         timeout: int | None = None) -> None:
    containers = project_containers(client, project.name, services=services, all=False,
                                    oneoff=None)
    for group in _by_level(project, containers, reverse=True):
        for c in group:
            say(f"Container {name_of(c)}", "Stopping")
            _api("stop", c, client.stop, timeout=timeout)
            say(f"Container {name_of(c)}", "Stopped")


def start(client: Client, project: Project, services: Iterable[str], say: Say) -> None:
    containers = project_containers(client, project.name, services=services)
    if not containers:
        raise EngineCommandError("service(s) have no container to start; run up first")
    for group in _by_level(project, containers, reverse=False):
        for c in group:
            svc = project.services.get(c["Labels"].get(L.SERVICE, ""))
            for dep, cond in (svc.depends_on.items() if svc else ()):
                for d in project_containers(client, project.name, services=[dep]):
                    wait_condition(client, d["Id"], name_of(d), cond.condition)
            if c.get("State") != "running":
                say(f"Container {name_of(c)}", "Starting")
                _api("start", c, client.start)
            say(f"Container {name_of(c)}", "Started")


def restart(client: Client, project: Project, services: Iterable[str], say: Say,
            timeout: int | None = None) -> None:
    for c in project_containers(client, project.name, services=services):
        say(f"Container {name_of(c)}", "Restarting")
        _api("restart", c, client.restart, timeout=timeout)
        say(f"Container {name_of(c)}", "Started")


def kill(client: Client, project: Project, services: Iterable[str], say: Say,
         signal: str | None = None) -> None:
    for c in project_containers(client, project.name, services=services, all=False):
        _api("kill", c, client.kill, signal=signal)
        say(f"Container {name_of(c)}", "Killed")


def rm(client: Client, project: Project, services: Iterable[str], say: Say, *,
       stop_first: bool = False, volumes: bool = False) -> list[str]:
    """Remove stopped containers (``-s``: stop running ones first); returns the names."""
    removed = []
    for c in project_containers(client, project.name, services=services):
        running = c.get("State") in ("running", "restarting", "paused")
        if running and not stop_first:
            continue
        if running:
            _api("stop", c, client.stop)
        _api("remove", c, client.remove, force=True, volumes=volumes)
        say(f"Container {name_of(c)}", "Removed")
        removed.append(name_of(c))
    return removed


def down(client: Client, project: Project, say: Say, *, volumes: bool = False,
         remove_orphans: bool = False, timeout: int | None = None) -> None:
    """Containers (orphans with ``--remove-orphans``), then networks, then with ``-v``
    the project's named volumes and the containers' anonymous ones."""
    containers = project_containers(client, project.name, oneoff=None)
    known = set(project.services)
    orphans = [c for c in containers if c["Labels"].get(L.SERVICE) not in known
               and c["Labels"].get(L.ONEOFF) != "True"]
    if orphans and not remove_orphans:
        for c in orphans:
            say(f"Found orphan containers ([{name_of(c)}]) for this project", "Warning")
        containers = [c for c in containers if c not in orphans]
    for group in _by_level(project, containers, reverse=True):
        for c in group:
            say(f"Container {name_of(c)}", "Stopping")
            if c.get("State") in ("running", "restarting", "paused"):
                _api("stop", c, client.stop, timeout=timeout)
            say(f"Container {name_of(c)}", "Stopped")
            _api("remove", c, client.remove, force=True, volumes=volumes)
            say(f"Container {name_of(c)}", "Removed")
    external = {n.name for n in project.networks.values() if n.external}
    for net in project_networks(client, project.name):
        if net["Name"] in external:
            continue
        try:
            client.network_remove(net["Id"])
        except APIError as e:
            if e.status != 404:
                raise EngineCommandError(f"network {net['Name']}: {e.message}") from None
        say(f"Network {net['Name']}", "Removed")
    if volumes:
        mine = {v.name for v in project.volumes.values() if not v.external}
        for vol in project_volumes(client, project.name):
            if vol["Name"] not in mine and (vol.get("Labels") or {}).get(L.VOLUME) is None:
                continue
            try:
                client.volume_remove(vol["Name"])
            except APIError as e:
                if e.status != 404:
                    raise EngineCommandError(f"volume {vol['Name']}: {e.message}") from None
            say(f"Volume {vol['Name']}", "Removed")
