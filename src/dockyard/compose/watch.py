"""``watch``: keep a project's containers in step with the files of ``develop.watch``.

The loop (docker compose's ``watch.go``): inotify over every rule's path
(:class:`dockyard.linux.inotify.TreeWatcher`), changes batched until the
tree has been quiet for ``debounce`` seconds, then per service:

- a ``rebuild`` rule hit: the image is built again through ``POST /build``,
  then ``up``'s reconcile runs for the service, which recreates its
  containers since their image changed (the ``com.docker.compose.image``
  label); the services that depend on it with ``restart: true`` are
  restarted; nothing else is done for that service in that batch, the new
  image has it all;
- otherwise the hit sync rules' files go into every running container of
  the service: what exists on the host travels as a tar per rule through
  ``PUT /containers/{id}/archive`` at the rule's target (directories whole;
  links as links, never followed), what no longer exists is removed with
  ``rm -rf`` through exec, as docker compose does; then ``sync+restart``/``restart`` restart the
  containers and ``sync+exec`` runs its command in each.

What happened on the host is read at flush time, not from the events: a
file created and deleted within one batch is simply absent. A failed step
is reported and the loop goes on, as docker compose's does; Ctrl-C (or
``stop``) ends it, leaving the containers running.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dockyard.client import APIError, Client
from dockyard.client.errors import ClientError
from dockyard.compose.build import build_service
from dockyard.compose.engine_api import name_of, project_containers
from dockyard.compose.errors import ComposeError, EngineCommandError
from dockyard.compose.model import Project
from dockyard.compose.up import UpOptions, up
from dockyard.compose.watch_rules import WatchRule
from dockyard.linux.inotify import TreeWatcher

Say = Callable[[str, str], None]
Emit = Callable[[str], None]


@dataclass
class WatchOptions:
    debounce: float = 0.5  # seconds of quiet that close a batch (docker compose: 500 ms)
    max_delay: float = 5.0  # seconds at most from a batch's first change to its handling
    quiet: bool = False  # no build output
    stop: threading.Event = field(default_factory=threading.Event)


def watch(client: Client, project: Project, rules: dict[str, list[WatchRule]], say: Say,
          emit: Emit, opts: WatchOptions | None = None) -> None:
    """Watch until ``opts.stop`` is set (or KeyboardInterrupt); ``rules`` from
    :func:`watch_rules.watch_rules`."""
    opts = opts or WatchOptions()
    roots = sorted({r.path for rs in rules.values() for r in rs})
    # watching starts before the initial sync, so nothing changed meanwhile is lost
    with TreeWatcher(roots) as tree:
        for service, rs in rules.items():
            initial = [(r, r.path) for r in rs if r.syncs and r.initial_sync]
            if initial:
                _guarded(say, service, _sync, client, project, service, initial)
        emit("Watch enabled")
        pending: dict[str, None] = {}
        first = last = 0.0
        while not opts.stop.is_set():
            got = tree.changes(0.1 if pending else 0.5)
            now = time.monotonic()
            if got:
                first = first if pending else now
                pending.update(dict.fromkeys(got))
                last = now
            # a batch closes after a quiet spell, or at the latest after max_delay of a
            # tree that never goes quiet (a build writing into it, say)
            if pending and (now - last >= opts.debounce or now - first >= opts.max_delay):
                batch, pending = list(pending), {}
                for service, rs in rules.items():
                    _guarded(say, service, _apply, client, project, service, rs, batch, say,
                             emit, opts)


def _guarded(say: Say, service: str, fn: Callable[..., object], *args: Any) -> None:
    """One service's reaction; its failure is reported, the watch goes on."""
    try:
        fn(*args)
    except (ComposeError, ClientError, OSError) as e:
        say(f"Service {service}", f"Error: {e}")


def _apply(client: Client, project: Project, service: str, rules: list[WatchRule],
           batch: list[str], say: Say, emit: Emit, opts: WatchOptions) -> None:
    hits: list[tuple[WatchRule, str]] = [
        (r, p) for r in rules for p in batch if r.matches(p, is_dir=os.path.isdir(p))]
    if not hits:
        return
    actions = {r.action for r, _ in hits}
    if "rebuild" in actions:
        say(f"Service {service}", f"Rebuilding after {len(hits)} changes were detected")
        rebuild(client, project, service, say, (lambda t: None) if opts.quiet else emit)
        return
    syncs = [(r, p) for r, p in hits if r.syncs]
    if syncs:
        say(f"Service {service}", f"Syncing after {len(syncs)} changes were detected")
        _sync(client, project, service, syncs)
    if actions & {"sync+restart", "restart"}:
        restart(client, project, service, say)
    for rule in {id(r): r for r, _ in hits if r.action == "sync+exec"}.values():
        _exec_hook(client, project, service, rule, emit)


# --- sync ---------------------------------------------------------------------------------


def _running(client: Client, project: Project, service: str) -> list[dict[str, Any]]:
    return project_containers(client, project.name, services=[service], all=False)


def _sync(client: Client, project: Project, service: str,
          hits: Iterable[tuple[WatchRule, str]]) -> None:
    """Copy what exists of ``hits`` into the service's running containers; remove the rest."""
    copies: dict[int, tuple[WatchRule, list[str]]] = {}  # per rule: its host paths
    deletes: dict[str, None] = {}  # container paths
    for rule, path in hits:
        if os.path.lexists(path):
            copies.setdefault(id(rule), (rule, []))[1].append(path)
        else:
            deletes[rule.container_path(path)] = None
    tars = [(_base(rule), sync_tar(rule, paths)) for rule, paths in copies.values()]
    for c in _running(client, project, service):
        try:
            if deletes:
                _run(client, c, ["rm", "-rf", "--", *deletes], wait=0.5)
            for base, data in tars:
                _ensure_dir(client, c, base)
                client.put_archive(c["Id"], base, data)
        except APIError as e:
            raise EngineCommandError(f"sync {name_of(c)}: {e.message}") from None


def _base(rule: WatchRule) -> str:
    """The container directory a rule's tar is extracted in: its target, or for a
    rule on one file, the target's directory."""
    assert rule.target is not None
    return rule.target if os.path.isdir(rule.path) else posixpath.dirname(rule.target) or "/"


def _ensure_dir(client: Client, c: dict[str, Any], path: str) -> None:
    """``path`` made in the container when missing (the image need not have it).

    Each tar goes to its rule's target rather than to ``/`` with full names
    (docker compose's way): extracting at ``/`` of a running container fails
    on dockyard's engine, and the target is where the rule's files belong.
    """
    try:
        client.archive_stat(c["Id"], path)
        return
    except APIError as e:
        if e.status != 404:
            raise
    code = _run(client, c, ["mkdir", "-p", "--", path], wait=1.0)
    try:
        client.archive_stat(c["Id"], path)
    except APIError as e:
        raise EngineCommandError(f"sync {name_of(c)}: cannot make {path} (mkdir -p exited "
                                 f"{code}): {e.message}") from None


def sync_tar(rule: WatchRule, paths: Iterable[str]) -> bytes:
    """A tar of host ``paths`` (covered by ``rule``) named relative to :func:`_base`.

    Directories go whole, what the rule ignores left out; symlinks are sent
    as links (never followed), so a link cannot carry a host file outside
    the watched tree into the container. The directories leading from the
    rule's path down to an entry are in the tar too, so a new subdirectory
    arrives complete.
    """
    base = _base(rule)
    seen: set[str] = set()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(path: str) -> None:
            name = posixpath.relpath(rule.container_path(path), base)
            if name in seen or name == ".":
                return
            seen.add(name)
            tar.add(path, arcname=name, recursive=False)

        for path in paths:
            parents = []
            p = os.path.dirname(path)
            while rule.covers(p) and p != rule.path:
                parents.append(p)
                p = os.path.dirname(p)
            for d in reversed(parents):
                add(d)
            add(path)
            if os.path.isdir(path) and not os.path.islink(path):
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs
                                     if rule.matches(os.path.join(root, d), is_dir=True))
                    for name in dirs:
                        add(os.path.join(root, name))
                    for name in sorted(files):
                        full = os.path.join(root, name)
                        if rule.matches(full):
                            add(full)
    return buf.getvalue()


def _run(client: Client, c: dict[str, Any], cmd: list[str], *, user: str = "",
         workdir: str = "", env: list[str] | None = None, privileged: bool = False,
         output: Emit | None = None, wait: float = 5.0) -> int | None:
    """Run ``cmd`` in container ``c`` through exec until its output ends; its exit code,
    or None when the engine has not recorded one ``wait`` seconds later."""
    xid = client.exec_create(c["Id"], {
        "AttachStdout": True, "AttachStderr": True, "Tty": False, "Cmd": cmd,
        "User": user, "WorkingDir": workdir, "Env": env or None, "Privileged": privileged})
    h = client.exec_start(xid, tty=False)
    if h is not None:
        try:
            text = b"".join(chunk for _, chunk in h.frames(False))
        finally:
            h.close()
        if output is not None:
            for line in text.decode(errors="replace").splitlines():
                output(f"{name_of(c)}  | {line}")
    # TRAP (engine, reported): dockyard's engine may report an exec as running
    # for a long while after its output ended, so the exit code is waited for
    # a bounded time only, and callers check the effect where it matters
    deadline = time.monotonic() + wait
    while True:
        info = client.exec_inspect(xid)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _exec_hook(client: Client, project: Project, service: str, rule: WatchRule,
               emit: Emit) -> None:
    hook = rule.exec
    assert hook is not None
    for c in _running(client, project, service):
        try:
            code = _run(client, c, hook.command, user=hook.user, workdir=hook.working_dir,
                        env=hook.environment, privileged=hook.privileged, output=emit)
        except APIError as e:
            raise EngineCommandError(f"exec in {name_of(c)}: {e.message}") from None
        if code is not None and code != 0:
            raise EngineCommandError(f"{rule.field_path}.exec: {' '.join(hook.command)} "
                                     f"exited {code} in {name_of(c)}")


# --- restart and rebuild ------------------------------------------------------------------


def _grace(project: Project, service: str) -> int | None:
    g = project.services[service].stop_grace_period
    return None if g is None else int(g)


def restart(client: Client, project: Project, service: str, say: Say) -> None:
    for c in _running(client, project, service):
        say(f"Container {name_of(c)}", "Restarting")
        try:
            client.restart(c["Id"], timeout=_grace(project, service))
        except APIError as e:
            raise EngineCommandError(f"restart {name_of(c)}: {e.message}") from None
        say(f"Container {name_of(c)}", "Started")


def rebuild(client: Client, project: Project, service: str, say: Say, emit: Emit) -> str:
    """Build the service's image again, then ``up``'s reconcile for the service: its
    containers run another image now, so they are recreated (its dependencies are left
    as they are, running). Returns the new image ID."""
    svc = project.services[service]
    say(f"Service {service}", "Building")
    image = build_service(client, project, svc, emit)
    say(f"Service {service}", "Built")
    up(client, project, UpOptions(services=[service]), say)
    for other, s in project.services.items():
        dep = s.depends_on.get(service)
        if dep is not None and dep.restart:
            restart(client, project, other, say)
    return image
