"""``down``, ``stop``, ``start``, ``restart``, ``kill``, ``rm``: a project's containers by label.

They find containers by ``com.docker.compose.project`` (and ``.service``),
never by name, so they act on what a half-failed ``up`` left as well.
``stop``/``down`` go in reverse dependency order (the containers of one
level at once), ``start`` in dependency order awaiting ``depends_on``
conditions, as ``up`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
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


def _each(containers: list[dict[str, Any]], fn: Callable[[dict[str, Any]], None]) -> None:
    """``fn`` on the containers of one level at once, as docker compose stops them (each
    waits out its own grace period); every one is let finish, the first error is raised."""
    if len(containers) <= 1:
        for c in containers:
            fn(c)
        return
    with ThreadPoolExecutor(max_workers=min(len(containers), 8)) as pool:
        futures = [pool.submit(fn, c) for c in containers]
    for f in futures:
        f.result()


def _api(what: str, c: dict[str, Any], fn: Callable[..., object], **kw: Any) -> None:
    try:
        fn(c["Id"], **kw)
    except APIError as e:
        raise EngineCommandError(f"{what} {name_of(c)}: {e.message}") from None


def stop(client: Client, project: Project, services: Iterable[str], say: Say,
         timeout: int | None = None) -> None:
    containers = project_containers(client, project.name, services=services, all=False,
                                    oneoff=None)
    def one(c: dict[str, Any]) -> None:
        say(f"Container {name_of(c)}", "Stopping")
        _api("stop", c, client.stop, timeout=timeout)
        say(f"Container {name_of(c)}", "Stopped")

    for group in _by_level(project, containers, reverse=True):
        _each(group, one)


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


def restart_set(project: Project, services: Iterable[str]) -> set[str]:
    """``services`` and, transitively, the services depending on one of them with
    ``depends_on: {…: {restart: true}}`` (docker compose restarts those along)."""
    out = set(services)
    grew = True
    while grew:
        grew = False
        for name, svc in project.services.items():
            if name not in out and any(d in out and cond.restart
                                       for d, cond in svc.depends_on.items()):
                out.add(name)
                grew = True
    return out


def restart(client: Client, project: Project, services: Iterable[str], say: Say,
            timeout: int | None = None) -> None:
    """Restart in dependency order, a level's containers at once; ``services`` given, their
    ``restart: true`` dependents too, each after the conditions on what was restarted
    before it hold again."""
    wanted = list(services)
    names = restart_set(project, wanted) if wanted else set()
    containers = project_containers(client, project.name, services=sorted(names))
    done: set[str] = set()

    def one(c: dict[str, Any]) -> None:
        svc = project.services.get(c["Labels"].get(L.SERVICE, ""))
        for dep, cond in (svc.depends_on.items() if svc else ()):
            if dep in done:
                for d in project_containers(client, project.name, services=[dep]):
                    wait_condition(client, d["Id"], name_of(d), cond.condition)
        say(f"Container {name_of(c)}", "Restarting")
        _api("restart", c, client.restart, timeout=timeout)
        say(f"Container {name_of(c)}", "Started")

    for group in _by_level(project, containers, reverse=False):
        _each(group, one)
        done.update(c["Labels"].get(L.SERVICE, "") for c in group)


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


RMI = ("local", "all")


def down_images(project: Project, rmi: str) -> list[str]:
    """The images ``down --rmi`` removes: ``local``, those ``build`` tagged under the default
    ``<project>-<service>`` name (services without ``image:``); ``all``, every service's."""
    if rmi not in RMI:
        raise EngineCommandError(f"invalid --rmi {rmi!r}: expected local or all")
    out = []
    for name, svc in project.services.items():
        if svc.image and rmi == "all":
            out.append(svc.image)
        elif not svc.image and svc.build is not None:
            out.append(f"{project.name}-{name}")
    return list(dict.fromkeys(out))


def down(client: Client, project: Project, say: Say, *, volumes: bool = False,
         remove_orphans: bool = False, timeout: int | None = None,
         rmi: str | None = None, known_services: Iterable[str] = (),
         services: Iterable[str] = ()) -> None:
    """Containers (orphans with ``--remove-orphans``), then networks, then with ``-v``
    the project's named volumes (never external ones) and the containers' anonymous
    ones, then with ``--rmi`` images (:func:`down_images`).

    ``known_services``: the services disabled by profiles. As docker compose's, ``down``
    leaves their containers (they are no orphans, even for ``--remove-orphans``) and their
    images alone: ``--profile P down`` enables them, and takes them down. A network or
    volume still in use stays, with docker compose's "Resource is still in use".

    ``services`` (``down SERVICE…``; the project loaded for them, so their profiles are
    enabled): only their containers and their dependents', and only the networks and
    volumes the project's services use."""
    images = down_images(project, rmi) if rmi else []  # a bad --rmi changes nothing
    disabled = set(known_services)
    chosen = _with_dependents(project, services) if services else None
    containers = [c for c in project_containers(client, project.name, oneoff=None)
                  if c["Labels"].get(L.SERVICE) not in disabled
                  and (chosen is None or c["Labels"].get(L.SERVICE) in chosen)]
    known = set(project.services)
    orphans = [c for c in containers if c["Labels"].get(L.SERVICE) not in known
               and c["Labels"].get(L.ONEOFF) != "True"]
    if orphans and not remove_orphans:
        for c in orphans:
            say(f"Found orphan containers ([{name_of(c)}]) for this project", "Warning")
        containers = [c for c in containers if c not in orphans]

    def one(c: dict[str, Any]) -> None:
        say(f"Container {name_of(c)}", "Stopping")
        if c.get("State") in ("running", "restarting", "paused"):
            _api("stop", c, client.stop, timeout=timeout)
        say(f"Container {name_of(c)}", "Stopped")
        _api("remove", c, client.remove, force=True, volumes=volumes)
        say(f"Container {name_of(c)}", "Removed")

    for group in _by_level(project, containers, reverse=True):
        _each(group, one)
    used = project.services.values() if chosen is not None else None
    _down_networks(client, project, say, None if used is None else
                   {project.networks[k].name for s in used for k in s.networks
                    if k in project.networks})
    if volumes:
        _down_volumes(client, project, say, None if used is None else
                      {project.volumes[v.source].name for s in used for v in s.volumes
                       if v.type == "volume" and v.source in project.volumes})
    for ref in images:
        _remove_image(client, ref, say)


def _with_dependents(project: Project, services: Iterable[str]) -> set[str]:
    """``services`` and, transitively, the services that depend on one of them."""
    out = set(services)
    grew = True
    while grew:
        more = {n for n, s in project.services.items() if n not in out and out & set(s.depends_on)}
        out |= more
        grew = bool(more)
    return out


def _down_networks(client: Client, project: Project, say: Say, only: set[str] | None) -> None:
    """The project's networks (by label; ``only`` these names), never external ones."""
    external = {n.name for n in project.networks.values() if n.external}
    for net in project_networks(client, project.name):
        if net["Name"] in external or (only is not None and net["Name"] not in only):
            continue
        try:
            client.network_remove(net["Id"])
        except APIError as e:
            if e.status in (403, 409):  # endpoints left (a disabled service's, another's)
                say(f"Network {net['Name']}", "Resource is still in use")
                continue
            if e.status != 404:
                raise EngineCommandError(f"network {net['Name']}: {e.message}") from None
        say(f"Network {net['Name']}", "Removed")


def _down_volumes(client: Client, project: Project, say: Say, only: set[str] | None) -> None:
    """``-v``: the project's named volumes (``only`` these), never external ones."""
    mine = {v.name for v in project.volumes.values() if not v.external}
    for vol in project_volumes(client, project.name):
        if only is not None and vol["Name"] not in only:
            continue
        if vol["Name"] not in mine and (vol.get("Labels") or {}).get(L.VOLUME) is None:
            continue
        try:
            client.volume_remove(vol["Name"])
        except APIError as e:
            if e.status == 409:
                say(f"Volume {vol['Name']}", "Resource is still in use")
                continue
            if e.status != 404:
                raise EngineCommandError(f"volume {vol['Name']}: {e.message}") from None
        say(f"Volume {vol['Name']}", "Removed")


def _remove_image(client: Client, ref: str, say: Say) -> None:
    """``DELETE /images/{ref}``: untags ``ref`` (the image goes with its last name). One still
    used by a container (another project's) stays, with a warning, as docker compose does."""
    try:
        # DELETE /images/{ref} through the client's plumbing, the same in every version
        # of it (its ImageAPI.image_remove is still being written, elsewhere)
        client._request("DELETE", f"/images/{ref}")
    except APIError as e:
        if e.status == 404:
            return  # never built or pulled, or already gone
        if e.status == 409:
            say(f"Image {ref}", f"Warning: {e.message}")
            return
        raise EngineCommandError(f"image {ref}: {e.message}") from None
    say(f"Image {ref}", "Removed")
