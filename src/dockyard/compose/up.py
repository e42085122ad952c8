"""``up``: execute :func:`planner.plan` on an engine, along the dependency graph.

Order (docker compose's ``convergence.go``): networks and named volumes
first, orphans, then the services along the dependency graph, in parallel
threads, each as soon as its own dependencies are done; before a service's containers
are created or started, its ``depends_on`` conditions are awaited
(``service_healthy``, ``service_completed_successfully``). A recreate
renames the old container out of the way, creates and starts the new one,
then removes the old one, so a failure half-way leaves containers that
``ps`` lists and ``down`` removes (they all carry the project label from
their creation on).

Each container records the ID its service's image resolved to when it was
created (label ``com.docker.compose.image``, as docker compose does), so a
rebuilt, pulled or retagged image recreates the service on the next ``up``
even though its configuration hash is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

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
    if opts.force_recreate and opts.no_recreate:  # before anything is changed
        raise EngineCommandError("--force-recreate and --no-recreate are incompatible")
    in_up = [n for level in planner.dependency_levels(project, opts.services or None)
             for n in level]
    nets, vols = _resources(project, in_up)
    # Independent round trips to the engine at once: the project's containers,
    # its images, its networks and volumes (made now if missing: every level
    # needs them, whatever the plan says about containers).
    with ThreadPoolExecutor(max_workers=3) as pool:
        listing = pool.submit(project_containers, client, project.name)
        images = pool.submit(resolve_images, client, project, in_up)
        made = pool.submit(_ensure_resources, client, project, nets, vols, say)
    existing, image_ids = listing.result(), images.result()
    made.result()
    result = planner.plan(project, existing, services=opts.services or None,
                          force_recreate=opts.force_recreate, no_recreate=opts.no_recreate,
                          scale=opts.scale, known_services=opts.known_services,
                          image_ids=image_ids)
    wanted = [name for level in result.levels for name in level]
    for orphan in result.orphans:
        if opts.remove_orphans:
            _remove(client, orphan.id, orphan.name, say)
        else:
            say(f"Found orphan containers ([{orphan.name}]) for this project", "Warning")
    _run_graph(client, project, result, say, opts, image_ids)
    if opts.wait:
        wait_services(client, project, wanted, opts.wait_timeout)
    return result


def _resources(project: Project, services: Iterable[str]) -> tuple[set[str], set[str]]:
    """The project networks and named volumes ``services`` use."""
    nets: set[str] = set()
    vols: set[str] = set()
    for name in services:
        svc = project.services[name]
        key, _ = service_network(project, svc)
        if key is not None:
            nets.add(key)
        vols.update(v.source for v in svc.volumes
                    if v.type == "volume" and v.source and v.source in project.volumes)
    return nets, vols


def _ensure_resources(client: Client, project: Project, nets: set[str], vols: set[str],
                      say: Say) -> None:
    ensure_networks(client, project, nets, say)
    ensure_volumes(client, project, vols, say)


def image_ref(project: Project, name: str) -> str | None:
    """The image a service's containers run: ``image:``, else the name ``build`` tags."""
    svc = project.services[name]
    return svc.image or (f"{project.name}-{name}" if svc.build else None)


def resolve_images(client: Client, project: Project, names: Iterable[str]) -> dict[str, str]:
    """``{service: image ID}`` for the services whose image the engine has (one not
    pulled yet is left out: its containers cannot exist, nothing to compare)."""
    refs = {name: ref for name in names if (ref := image_ref(project, name)) is not None}

    def one(name: str) -> str | None:
        try:
            return str(client.image_inspect(refs[name])["Id"])
        except APIError as e:
            if e.status != 404:
                raise EngineCommandError(f"image {refs[name]} of service {name}: "
                                         f"{e.message}") from None
            return None

    if len(refs) <= 1:
        found = {name: one(name) for name in refs}
    else:  # one round trip each, at once
        with ThreadPoolExecutor(max_workers=min(len(refs), 8)) as pool:
            found = dict(zip(refs, pool.map(one, refs), strict=True))
    return {name: image_id for name, image_id in found.items() if image_id is not None}


def with_image_label(body: dict[str, Any], image_id: str | None) -> dict[str, Any]:
    """``body`` (a create request) carrying ``com.docker.compose.image``."""
    if image_id:
        body["Labels"] = {**(body.get("Labels") or {}), L.IMAGE: image_id}
    return body


def _run_graph(client: Client, project: Project, result: planner.Plan, say: Say,
               opts: UpOptions, image_ids: Mapping[str, str]) -> None:
    """Each service as soon as its own dependencies are done, concurrently (docker
    compose's graph walk): a service never waits for a slow one it does not depend
    on, in its level or an earlier one. After a failure no service begins; those
    under way are let finish, and the first error (in level order) is raised."""
    order = [name for level in result.levels for name in level]
    done = {name: threading.Event() for name in order}
    errors: dict[str, BaseException] = {}
    failed = threading.Event()

    def one(name: str) -> None:
        try:
            for dep in project.services[name].depends_on:
                if dep in done:
                    done[dep].wait()
            if failed.is_set():
                return
            if not opts.no_start:
                _wait_dependencies(client, project, name)
            for action in result.for_service(name):
                _execute(client, project, action, say, start=not opts.no_start,
                         image_id=image_ids.get(name))
        except BaseException as e:  # re-raised below, in level order
            errors[name] = e
            failed.set()
        finally:
            done[name].set()

    if len(order) <= 1:
        for name in order:
            one(name)
    else:
        # A thread per service, at most 8 past their dependencies at once; daemon
        # threads, and waited for here through events, so Ctrl-C ends `up` at once
        # even while services wait on slow health checks.
        slots = threading.BoundedSemaphore(8)

        def run(name: str) -> None:
            for dep in project.services[name].depends_on:
                if dep in done:
                    done[dep].wait()
            with slots:
                one(name)

        for name in order:
            threading.Thread(target=run, args=(name,), name=f"up-{name}", daemon=True).start()
        for name in order:
            done[name].wait()
    for name in order:
        if name in errors:
            raise errors[name]


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
             start: bool = True, image_id: str | None = None) -> None:
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
            body = with_image_label(container_body(project, svc, a.number), image_id)
            cid = client.create(body, name=a.name)["Id"]
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
            body = with_image_label(container_body(project, svc, a.number), image_id)
            cid = client.create(body, name=a.name)["Id"]
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

