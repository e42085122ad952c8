"""``run``: a one-off container of a service (``com.docker.compose.oneoff=True``).

Its dependencies are brought up first (as ``up`` would, conditions
awaited) unless ``--no-deps``; the one-off container is named
``project-service-run-<12 hex>``, gets no published ports, and its output is
streamed until it exits; its exit code is ``run``'s.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose.engine_api import (
    container_body,
    ensure_networks,
    ensure_volumes,
    service_network,
)
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.logs import print_logs
from dockyard.compose.model import Project
from dockyard.compose.planner import with_dependencies
from dockyard.compose.up import Say, UpOptions, _wait_dependencies, up


def run_oneoff(client: Client, project: Project, service: str, command: list[str] | None,
               say: Say, *, env: list[str], no_deps: bool, name: str | None, detach: bool,
               auto_remove: bool, emit: Callable[[str], None],
               known_services: list[str] | None = None) -> int:
    svc = project.services[service]
    deps = sorted(with_dependencies(project, [service]) - {service})
    if deps and not no_deps:
        up(client, project, UpOptions(services=deps, known_services=known_services or []), say)
    key, _ = service_network(project, svc)
    ensure_networks(client, project, [key] if key else [], say)
    ensure_volumes(client, project, [v.source for v in svc.volumes
                                     if v.type == "volume" and v.source in project.volumes], say)
    if not no_deps:
        _wait_dependencies(client, project, service)
    cname = name or L.container_name(project.name, service, 0, oneoff=True).replace(
        "-run-0", f"-run-{secrets.token_hex(6)}")
    body = container_body(project, svc, 1, oneoff=True, command=command, extra_env=env)
    try:
        cid = client.create(body, name=cname)["Id"]
    except APIError as e:
        raise EngineCommandError(f"run {service}: {e.message}") from None
    try:
        client.start(cid)
    except APIError as e:
        if auto_remove:
            _remove_quietly(client, cid)
        raise EngineCommandError(f"run {service}: {e.message}") from None
    if detach:
        emit(cname)
        return 0
    try:
        print_logs(client, [{"Id": cid, "Names": [cname]}], emit, follow=True, prefix=False)
        code = int(client.wait(cid).get("StatusCode", 0))
    finally:
        if auto_remove:
            _remove_quietly(client, cid)
    return code


def _remove_quietly(client: Client, cid: str) -> None:
    try:
        client.remove(cid, force=True)
    except APIError:
        pass  # already gone
