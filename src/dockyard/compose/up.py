"""``up``: execute :func:`planner.plan` on an engine, level by level.

Order (docker compose's ``convergence.go``): networks and named volumes
first, orphans, then each dependency level, its services in parallel threads; before a service's containers
are created or started, its ``depends_on`` conditions are awaited
(``service_healthy``, ``service_completed_successfully``). A recreate
renames the old container out of the way, creates and starts the new one,
then removes the old one, so a failure half-way leaves containers that
``ps`` lists and ``down`` removes (they all carry the project label from
their creation on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose import planner
from dockyard.compose.engine_api import (
    container_body,
    ensure_networks,
    ensure_volumes,
    name_of,
    project_containers,
    service_network,
    wait_condition,
)
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.model import Project

Say = Callable[[str, str], None]


@dataclass
class UpOptions:
    services: list[str] = field(default_factory=list)
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    scale: dict[str, int] = field(default_factory=dict)
    wait: bool = False
    wait_timeout: float = 120.0
    known_services: list[str] = field(default_factory=list)  # disabled by profiles: not orphans
    no_start: bool = False  # `create`: containers made, none started


def parse_scale(values: Iterable[str], project: Project) -> dict[str, int]:
    """``--scale web=3`` → ``{"web": 3}``; unknown services and bad numbers are errors."""
    out: dict[str, int] = {}
    for v in values:
        name, sep, num = v.partition("=")
        if not sep or not num.isdigit():
            raise EngineCommandError(f"invalid --scale {v!r}: expected SERVICE=NUM")
        if name not in project.services:
            raise EngineCommandError(f"invalid --scale {v!r}: no such service: {name}")
        out[name] = int(num)
    return out


def up(client: Client, project: Project, opts: UpOptions, say: Say) -> planner.Plan:
    """Bring the project to its configuration; returns the plan it carried out."""
    existing = project_containers(client, project.name)
    result = planner.plan(project, existing, services=opts.services or None,
                          force_recreate=opts.force_recreate, no_recreate=opts.no_recreate,
                          scale=opts.scale, known_services=opts.known_services)
    wanted = [name for level in result.levels for name in level]
    nets: set[str] = set()
    vols: set[str] = set()
    for name in wanted:
        svc = project.services[name]
        key, _ = service_network(project, svc)
        if key is not None:
            nets.add(key)
        vols.update(v.source for v in svc.volumes
                    if v.type == "volume" and v.source and v.source in project.volumes)
    ensure_networks(client, project, nets, say)
    ensure_volumes(client, project, vols, say)
    for orphan in result.orphans:
        if opts.remove_orphans:
            _remove(client, orphan.id, orphan.name, say)
        else:
            say(f"Found orphan containers ([{orphan.name}]) for this project", "Warning")
    for level in result.levels:
        _run_level(client, project, result, level, say, opts)
    if opts.wait:
        wait_services(client, project, wanted, opts.wait_timeout)
    return result


def _run_level(client: Client, project: Project, result: planner.Plan, level: list[str],
               say: Say, opts: UpOptions) -> None:
    """The services of one dependency level at once (docker compose's convergence runs
    them concurrently): one service awaiting a slow dependency holds back no other.
    Every service is let finish; the first error (in level order) is raised."""

    def one(name: str) -> None:
        if not opts.no_start:
            _wait_dependencies(client, project, name)
        for action in result.for_service(name):
            _execute(client, project, action, say, start=not opts.no_start)

    if len(level) <= 1:
        for name in level:
            one(name)
        return
    with ThreadPoolExecutor(max_workers=min(len(level), 8)) as pool:
        futures = [pool.submit(one, name) for name in level]
    for f in futures:
        f.result()


def _wait_dependencies(client: Client, project: Project, name: str) -> None:
    for dep, cond in project.services[name].depends_on.items():
        if dep not in project.services:
            continue
        containers = project_containers(client, project.name, services=[dep])
        if not containers:
            if cond.required:
                raise EngineCommandError(f"service {name!r} depends on {dep!r}, which has "
                                         f"no container")
            continue
        for c in containers:
            wait_condition(client, c["Id"], name_of(c), cond.condition)


def wait_services(client: Client, project: Project, services: Iterable[str],
                  timeout: float) -> None:
    """``--wait``: every container running, and healthy where it has a healthcheck."""
    # one-shot services others wait on to complete may have exited, with 0
    one_shot = {d for s in project.services.values() for d, cond in s.depends_on.items()
                if cond.condition == "service_completed_successfully"}
    for c in project_containers(client, project.name, services=services):
        info = client.inspect(c["Id"])
        if c["Labels"].get(L.SERVICE) in one_shot:
            wait_condition(client, c["Id"], name_of(c), "service_completed_successfully", timeout)
            continue
        cond = "service_healthy" if info["State"].get("Health") else "service_started"
        if not info["State"].get("Running") and cond == "service_started":
            raise EngineCommandError(f"container {name_of(c)} exited "
                                     f"({info['State'].get('ExitCode')})")
        wait_condition(client, c["Id"], name_of(c), cond, timeout)


def _execute(client: Client, project: Project, a: planner.Action, say: Say, *,
             start: bool = True) -> None:
    svc = project.services[a.service]
    try:
        if a.kind == "noop":
            say(f"Container {a.name}", "Running")
        elif a.kind == "start":
            assert a.container is not None
            client.start(a.container)
            say(f"Container {a.name}", "Started")
        elif a.kind == "remove":
            assert a.container is not None
            _remove(client, a.container, a.name, say)
        elif a.kind == "create":
            cid = client.create(container_body(project, svc, a.number), name=a.name)["Id"]
            say(f"Container {a.name}", "Created")
            if start:
                client.start(cid)
                say(f"Container {a.name}", "Started")
        elif a.kind == "recreate":
            assert a.container is not None
            old = a.container
            client.stop(old, timeout=_stop_timeout(svc.stop_grace_period))
            # out of the way under a temporary name, as docker compose does
            client.rename(old, f"{old[:12]}_{a.name}")
            cid = client.create(container_body(project, svc, a.number), name=a.name)["Id"]
            client.remove(old, force=True)
            say(f"Container {a.name}", "Recreated")
            if start:
                client.start(cid)
                say(f"Container {a.name}", "Started")
        else:
            raise EngineCommandError(f"unknown plan action {a.kind!r}")
    except APIError as e:
        raise EngineCommandError(f"container {a.name}: {e.message}") from None


def _stop_timeout(grace: float | None) -> int | None:
    return None if grace is None else int(grace)


def _remove(client: Client, cid: str, name: str, say: Say) -> None:
    say(f"Container {name}", "Stopping")
    client.stop(cid)
    client.remove(cid, force=True)
    say(f"Container {name}", "Removed")

