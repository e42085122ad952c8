"""``down``, ``stop``, ``start``, ``restart``, ``kill``, ``rm``: a project's containers by label.

They find containers by ``com.docker.compose.project`` (and ``.service``),
never by name, so they act on what a half-failed ``up`` left as well.
``stop``/``down`` go in reverse dependency order (the containers of one
level at once), ``start`` in dependency order awaiting ``depends_on``
conditions, as ``up`` does.
"""

from __future__ import annotations

import re
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

# distribution/reference's grammar: lowercase path components, a domain (host[:port]),
# a tag, a digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_HOST = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = re.compile(rf"(?:{_HOST}(?:\.{_HOST})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"\w[\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}")
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")


def familiar(ref: str) -> str:
    """``ref`` as docker compose's image pruner names it (reference's ParseNormalizedNamed,
    then TagNameOnly, then FamiliarString): ``:latest`` added when there is neither tag
    nor digest, Docker Hub's ``docker.io/`` and ``library/`` dropped. Left as given when
    it does not parse, as compose leaves it."""
    if _IMAGE_ID.fullmatch(ref):
        return ref  # an image ID, never a repository name
    first, slash, rest = ref.partition("/")
    # splitDockerDomain: a first part is a domain if it has "." or ":", is localhost, or
    # has an uppercase letter (a path component never has)
    if not slash or ("." not in first and ":" not in first and first != "localhost"
                     and first.lower() == first):
        domain, remainder = "docker.io", ref
    else:
        domain, remainder = first, rest
    if domain == "index.docker.io":
        domain = "docker.io"
    remainder, at, digest = remainder.partition("@")
    path, colon, tag = remainder.partition(":")
    if (not _DOMAIN.fullmatch(domain) or not _PATH.fullmatch(path)
            or (colon and not _TAG.fullmatch(tag)) or (at and not _DIGEST.fullmatch(digest))):
        return ref
    if domain != "docker.io":
        name = f"{domain}/{path}"
    elif path.startswith("library/") and path.count("/") == 1:
        name = path.removeprefix("library/")
    else:
        name = path
    if not colon and not at:
        colon, tag = ":", "latest"
    return f"{name}{colon}{tag}{at}{digest}"


def images_to_prune(client: Client, project: Project, rmi: str, *,
                    remove_orphans: bool = False) -> list[str]:
    """The images ``down --rmi`` removes, as docker compose v2's ImagePruner picks them:

    - ``all``: every (enabled) service's ``image:`` the engine has;
    - ``local`` and ``all``: the tagged images labelled with the project (``build``
      labels what it builds, :func:`labels.image_labels`), whatever their name: those of
      a service of the model, or with ``--remove-orphans`` every one (a service since
      removed from the files, one disabled by profiles);
    - and, for images built before they were labelled, ``<project>-<service>`` of every
      service without ``image:`` that the engine has.

    Named as the pruner names them (:func:`familiar`), each once, sorted. Whether one
    goes is the engine's decision: it refuses to remove the last name of an image a
    container uses (another project's too), and ``down`` says "Resource is still in use"."""
    if rmi not in RMI:
        raise EngineCommandError(f"invalid --rmi {rmi!r}: expected local or all")
    refs: list[str] = []
    if rmi == "all":
        refs += _existing(client, [s.image for s in project.services.values() if s.image])
    try:
        labelled = client.images(filters={"label": [f"{L.PROJECT}={project.name}"],
                                          "dangling": ["false"]})
    except APIError as e:
        raise EngineCommandError(f"list images: {e.message}") from None
    for img in labelled:
        # only tagged names are removed: a dangling image is never listed by name
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
        if tags and (remove_orphans
                     or (img.get("Labels") or {}).get(L.SERVICE) in project.services):
            refs.append(tags[0])
    refs += _existing(client, [f"{project.name}-{name}" for name, svc in
                               project.services.items() if not svc.image])
    return sorted({familiar(r) for r in refs})


def _existing(client: Client, refs: list[str]) -> list[str]:
    """Those of ``refs`` the engine has; one it could not answer for counts as there (a
    removal of a missing image only warns), as compose's filterImagesByExistence."""
    out = []
    for ref in dict.fromkeys(refs):
        try:
            client.image_inspect(ref)
        except APIError as e:
            if e.status == 404:
                continue
        out.append(ref)
    return out


def is_orphaned(c: dict[str, Any], services: set[str]) -> bool:
    """docker compose's isOrphaned: a ``run`` container (``oneoff=True``) once it exited
    (or is dead), whatever its service; any other of a service not in ``services`` (the
    model's, enabled or disabled by profiles)."""
    labels = c.get("Labels") or {}
    if labels.get(L.ONEOFF) == "True":
        return c.get("State") in ("exited", "dead")
    return labels.get(L.SERVICE) not in services


def down(client: Client, project: Project, say: Say, *, volumes: bool = False,
         remove_orphans: bool = False, timeout: int | None = None,
         rmi: str | None = None, known_services: Iterable[str] = (),
         services: Iterable[str] = ()) -> None:
    """As docker compose v2's ``down``: the services' containers in reverse dependency
    order, then with ``--remove-orphans`` the orphans (:func:`is_orphaned`), then
    networks, with ``-v`` the project's named volumes (never external ones) and the
    service containers' anonymous ones, with ``--rmi`` images (:func:`images_to_prune`).

    ``run`` containers are left alone without ``--remove-orphans``; with it, a service's
    go along with its other containers (running or not), and any exited one, of whatever
    service, is an orphan.

    ``known_services``: the services disabled by profiles. Their containers are no
    orphans (a ``run`` one that exited aside) and stay: ``--profile P down`` enables them,
    and takes them down. A network or volume still in use stays, with docker compose's
    "Resource is still in use".

    ``services`` (``down SERVICE…``; the project loaded for them, so their profiles are
    enabled): only their containers and their dependents' (the orphans still go with
    ``--remove-orphans``), and only the networks and volumes the project's services use."""
    if rmi is not None and rmi not in RMI:  # a bad --rmi changes nothing
        raise EngineCommandError(f"invalid --rmi {rmi!r}: expected local or all")
    chosen = _with_dependents(project, services) if services else set(project.services)
    found = project_containers(client, project.name, oneoff=None if remove_orphans else False)
    mine = [c for c in found if c["Labels"].get(L.SERVICE) in chosen]
    every = set(project.services) | set(known_services)
    orphans = [c for c in found if remove_orphans and c not in mine and is_orphaned(c, every)]

    def one(c: dict[str, Any], remove_volumes: bool) -> None:
        say(f"Container {name_of(c)}", "Stopping")
        try:
            if c.get("State") in ("running", "restarting", "paused"):
                client.stop(c["Id"], timeout=timeout)
            say(f"Container {name_of(c)}", "Stopped")
            say(f"Container {name_of(c)}", "Removing")
            client.remove(c["Id"], force=True, volumes=remove_volumes)
        except APIError as e:
            # gone meanwhile (a run --rm one that finished), or already being removed
            if e.status not in (404, 409):
                raise EngineCommandError(f"remove {name_of(c)}: {e.message}") from None
        say(f"Container {name_of(c)}", "Removed")

    for group in _by_level(project, mine, reverse=True):
        _each(group, lambda c: one(c, volumes))
    _each(orphans, lambda c: one(c, False))  # as compose: their volumes stay
    used = project.services.values() if services else None
    _down_networks(client, project, say, None if used is None else
                   {project.networks[k].name for s in used for k in s.networks
                    if k in project.networks})
    if volumes:
        _down_volumes(client, project, say, None if used is None else
                      {project.volumes[v.source].name for s in used for v in s.volumes
                       if v.type == "volume" and v.source in project.volumes})
    if rmi:
        for ref in images_to_prune(client, project, rmi, remove_orphans=remove_orphans):
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
    """``DELETE /images/{ref}`` (never forced): untags ``ref``, the image going with its
    last name. The engine refuses that for an image a container uses (another project's):
    it stays, with docker compose's warning."""
    say(f"Image {ref}", "Removing")
    try:
        client.image_remove(ref)
    except APIError as e:
        if e.status == 404:
            say(f"Image {ref}", "Warning: No resource found to remove")
            return
        if e.status == 409:
            say(f"Image {ref}", "Resource is still in use")
            return
        raise EngineCommandError(f"image {ref}: {e.message}") from None
    say(f"Image {ref}", "Removed")
