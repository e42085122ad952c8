"""``run``: a one-off container of a service (``com.docker.compose.oneoff=True``).

Its dependencies are brought up first (as ``up`` would, conditions
awaited) unless ``--no-deps``; the one-off container is named
``project-service-run-<12 hex>`` (or ``--name``), and its output is streamed
until it exits; its exit code is ``run``'s.

What docker compose's ``run`` flags change in the service's container:

    --service-ports   publish the service's ``ports:`` (by default none are,
                      so a one-off never fights the service for its ports)
    -p/--publish      publish these (``[IP:][HOST:]CONTAINER[/PROTO]``), too
    -e/--env          more environment (``KEY=VALUE``, or ``KEY``: from ours)
    -l/--label        more labels (``KEY=VALUE``)
    -v/--volume       more mounts (short syntax; a relative source is from
                      the current directory, a project volume key its volume)
    --entrypoint      the entrypoint (a shell-quoted string; ``""`` clears it)
    -i/--interactive  stdin open (``OpenStdin``; the default, ``=false`` turns it off)
                      and, attached, ours piped to it: EOF closes it (``StdinOnce``)
    -t/-T             a tty or not (``RunOptions.tty``; the CLI decides as docker
                      compose does: one when our stdin and stdout are terminals)
    -w/--workdir, -u/--user, --rm, -d, --name

Attached, the one-off is attached to (``POST /containers/{id}/attach``, stdin
with ``-i``) and waited for (``removed`` with ``--rm``) before it starts, so no
output and no exit is missed, and copied through the caller's ``Streamer`` (the
CLI's terminal handling: raw mode, resize). With a tty, the detach keys (the
docker CLI config file's ``detachKeys``, else ctrl-p,ctrl-q: docker compose has
no flag for them) end ``run`` at once with 0, as docker compose's: the one-off
runs on (``--rm``'s too: the engine removes it when it exits, ``AutoRemove``).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.client import APIError, Client, Hijacked
from dockyard.client.detach import configured_detach_keys, parse_detach_keys
from dockyard.client.errors import InvalidDetachKeys
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
from dockyard.compose.shortsyntax import parse_port, parse_volume, split_command
from dockyard.compose.up import (
    Say,
    UpOptions,
    _wait_dependencies,
    resolve_images,
    up,
    with_image_label,
)

# (hijacked attach, tty, stdin, resize(rows, cols)): copies the stream to and from the
# user's terminal until the container's output ends; True when it ended on the detach
# keys (``Hijacked.detach_keys``).
Streamer = Callable[[Hijacked, bool, bool, Callable[[int, int], None]], bool | None]


@dataclass
class RunOptions:
    env: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)
    service_ports: bool = False
    no_deps: bool = False
    name: str | None = None
    detach: bool = False
    auto_remove: bool = False
    no_tty: bool = False
    tty: bool | None = None  # None: the service's ``tty:`` (unless no_tty)
    interactive: bool = True
    entrypoint: str | None = None
    workdir: str | None = None
    user: str | None = None
    known_services: list[str] = field(default_factory=list)


def run_body(project: Project, service: str, command: list[str] | None,
             opts: RunOptions) -> dict[str, Any]:
    """The one-off container's create request; bad flag values raise before anything runs."""
    svc = project.services[service]
    env = [e if "=" in e else f"{e}={os.environ[e]}" for e in opts.env
           if "=" in e or e in os.environ]  # docker: -e KEY unset here is left out
    body = container_body(project, svc, 1, oneoff=True, command=command, extra_env=env)
    host = body["HostConfig"]
    exposed: dict[str, Any] = dict(body.get("ExposedPorts") or {})
    bindings: dict[str, list[dict[str, str]]] = {}
    if opts.service_ports:
        full = container_body(project, svc, 1)  # the service's own ports, as up publishes them
        exposed.update(full.get("ExposedPorts") or {})
        bindings.update(full["HostConfig"].get("PortBindings") or {})
    for spec in opts.publish:
        try:
            entries = parse_port(spec)
        except ValueError as e:
            raise EngineCommandError(f"invalid --publish {spec!r}: {e}") from None
        for p in entries:
            key = f"{p['target']}/{p['protocol']}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": p.get("host_ip", ""),
                                                 "HostPort": str(p.get("published", ""))})
    body["ExposedPorts"] = exposed or None
    host["PortBindings"] = bindings or None
    labels = dict(body["Labels"])
    for spec in opts.labels:
        k, sep, v = spec.partition("=")
        if not k or not sep:
            raise EngineCommandError(f"invalid --label {spec!r}: expected KEY=VALUE")
        labels[k] = v
    body["Labels"] = labels
    mounts = list(host.get("Mounts") or [])
    for spec in opts.volumes:
        mounts.append(_mount(project, spec))
    host["Mounts"] = mounts or None
    if opts.entrypoint is not None:
        try:
            body["Entrypoint"] = split_command(opts.entrypoint) or [""]
        except ValueError as e:
            raise EngineCommandError(f"invalid --entrypoint: {e}") from None
        if command is None:
            body["Cmd"] = None  # docker compose: a new entrypoint drops the service's command
    if opts.workdir is not None:
        body["WorkingDir"] = opts.workdir
    if opts.user is not None:
        body["User"] = opts.user
    if opts.tty is not None:
        body["Tty"] = opts.tty
    if opts.no_tty:
        body["Tty"] = False
    # docker compose: the one-off's stdin is open with -i (the default), whatever the
    # service's stdin_open; closed when the attached client's stdin ends
    attached = opts.interactive and not opts.detach
    body.update(OpenStdin=opts.interactive, StdinOnce=attached, AttachStdin=attached)
    if opts.auto_remove:
        # the engine removes it on exit: nobody waits for it with -d, nor after a detach
        host["AutoRemove"] = True
    return body


def _mount(project: Project, spec: str) -> dict[str, Any]:
    try:
        v = parse_volume(spec, os.getcwd())
    except ValueError as e:
        raise EngineCommandError(f"invalid --volume {spec!r}: {e}") from None
    m: dict[str, Any] = {"Type": v["type"], "Target": v["target"],
                         "ReadOnly": bool(v.get("read_only", False))}
    source = str(v.get("source") or "")
    if v["type"] == "bind":
        if not os.path.exists(source):
            raise EngineCommandError(f"invalid --volume {spec!r}: {source} does not exist")
        m["Source"] = source
    elif source:
        m["Source"] = project.volumes[source].name if source in project.volumes else source
    return m


def run_oneoff(client: Client, project: Project, service: str, command: list[str] | None,
               say: Say, opts: RunOptions, emit: Callable[[str], None],
               streamer: Streamer | None = None) -> int:
    """Run the one-off; its exit code (0 with ``-d``). Without a ``streamer`` its output
    goes line by line through ``emit`` and it gets no stdin."""
    svc = project.services[service]
    if streamer is None and not opts.detach:
        opts = replace(opts, interactive=False)  # nobody would write to, or close, its stdin
    body = run_body(project, service, command, opts)  # flags checked before anything starts
    keys = _detach_keys() if streamer is not None and not opts.detach else ""
    deps = sorted(with_dependencies(project, [service]) - {service})
    if deps and not opts.no_deps:
        up(client, project, UpOptions(services=deps, known_services=opts.known_services), say)
    key, _ = service_network(project, svc)
    ensure_networks(client, project, [key] if key else [], say)
    extra = [v["Source"] for v in body["HostConfig"].get("Mounts") or []
             if v["Type"] == "volume" and v.get("Source")]
    ensure_volumes(client, project, [
        k for k, vol in project.volumes.items()
        if k in {v.source for v in svc.volumes if v.type == "volume"} or vol.name in extra], say)
    if not opts.no_deps:
        _wait_dependencies(client, project, service)
    with_image_label(body, resolve_images(client, project, [service]).get(service))
    cname = opts.name or L.container_name(project.name, service, 0, oneoff=True).replace(
        "-run-0", f"-run-{secrets.token_hex(6)}")
    try:
        cid = client.create(body, name=cname)["Id"]
    except APIError as e:
        raise EngineCommandError(f"run {service}: {e.message}") from None
    h = None
    result: dict[str, Any] = {}
    waiter = None
    if not opts.detach:
        waiter = threading.Thread(target=_wait, daemon=True, args=(
            client, cid, "removed" if opts.auto_remove else "next-exit", result))
    try:
        if streamer is not None and not opts.detach:
            # before the start: nothing missed
            h = client.attach(cid, stdin=opts.interactive, detach_keys=keys or None)
        if waiter is not None:
            waiter.start()
        client.start(cid)
    except APIError as e:
        if h is not None:
            h.close()
        if opts.auto_remove:
            _remove_quietly(client, cid)
        raise EngineCommandError(f"run {service}: {e.message}") from None
    if opts.detach:
        emit(cname)
        return 0
    assert waiter is not None
    detached = False
    try:
        if h is not None and streamer is not None:
            detached = bool(streamer(h, bool(body["Tty"]), opts.interactive,
                                     lambda rows, cols: _resize(client, cid, rows, cols)))
        else:
            print_logs(client, [{"Id": cid, "Names": [cname]}], emit, follow=True,
                       prefix=False)
        if detached:
            return 0  # the one-off runs on (and --rm's goes when it exits)
        waiter.join()
        if "error" in result:
            raise EngineCommandError(f"run {service}: {result['error']}")
        return int(result.get("StatusCode", 0))
    finally:
        if opts.auto_remove and not detached:
            _remove_quietly(client, cid)


def _detach_keys() -> str:
    """The config file's ``detachKeys`` (docker compose's only source), checked first."""
    try:
        keys = configured_detach_keys()
        if keys:
            parse_detach_keys(keys)
    except InvalidDetachKeys as e:
        raise EngineCommandError(str(e)) from None
    return keys


def _wait(client: Client, cid: str, condition: str, result: dict[str, Any]) -> None:
    """``POST /containers/{id}/wait`` on a connection of its own (it blocks till the exit)."""
    try:
        with client.another() as c:
            result.update(c.wait(cid, condition))
    except APIError as e:
        result["error"] = e.message


def _resize(client: Client, cid: str, rows: int, cols: int) -> None:
    try:
        client.resize(cid, rows, cols)
    except APIError:
        pass  # not running (yet, or any more)


def _remove_quietly(client: Client, cid: str) -> None:
    try:
        client.remove(cid, force=True)
    except APIError:
        pass  # already gone
