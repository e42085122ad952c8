"""``develop.watch``: the rules of ``compose watch``, checked, and which files they cover.

A rule (the Compose Develop Specification) is ``path`` (relative to the
project directory; a directory, watched recursively, or one file),
``action``, and for the sync family a ``target`` in the container::

    sync          copy changed files into the running containers at target
    rebuild       rebuild the image (POST /build) and recreate the containers
    restart       restart the containers
    sync+restart  sync, then restart
    sync+exec     sync, then run ``exec.command`` in each container

Which changes count (docker compose's rules, in this order):

- ``.git`` directories and editors' temporary files never (vim's ``.x.swp``
  and ``4913``, emacs' ``.#x`` and ``#x#``, JetBrains' ``___jb_tmp___``, …);
- the build context's ``.dockerignore`` (patterns relative to the context);
- ``ignore`` (``.dockerignore`` syntax, relative to the rule's ``path``);
- ``include``, when given: only what it matches (same syntax).

Everything is checked by :func:`watch_rules` before anything is started,
each problem reported with the path of the field
(``services.web.develop.watch[1].target``).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from dockyard.build.dockerignore import Matcher, parse_patterns
from dockyard.build.dockerignore import load as load_dockerignore
from dockyard.build.errors import ContextError
from dockyard.compose.errors import ConfigError
from dockyard.compose.model import Project, Service

ACTIONS = ("rebuild", "sync", "restart", "sync+restart", "sync+exec")
SYNCS = frozenset({"sync", "sync+restart", "sync+exec"})

# docker compose's ephemeral files (editors' swap, backup and atomic-save files), by basename
_EPHEMERAL = re.compile(
    r"^(\.#.*|#.*#|.*___jb_(old|tmp)___|\..*\.kate-swp|\.goutputstream-.*|4913|.*~|"
    r"\..*\.sw[px])$")


@dataclass(frozen=True)
class Hook:
    """``exec`` of a ``sync+exec`` rule (the spec's service_hook)."""

    command: list[str]
    user: str = ""
    privileged: bool = False
    working_dir: str = ""
    environment: list[str] = field(default_factory=list)


@dataclass
class WatchRule:
    service: str
    index: int  # its place in develop.watch, for messages
    action: str
    path: str  # absolute, normalised
    target: str | None = None  # absolute container path (sync family)
    ignore: Matcher = field(default_factory=lambda: Matcher([]))
    include: Matcher | None = None
    initial_sync: bool = False
    exec: Hook | None = None
    context: tuple[str, Matcher] | None = None  # build context and its .dockerignore

    @property
    def field_path(self) -> str:
        return f"services.{self.service}.develop.watch[{self.index}]"

    @property
    def syncs(self) -> bool:
        return self.action in SYNCS

    def covers(self, path: str) -> bool:
        """Is ``path`` (absolute) the rule's path or below it?"""
        return path == self.path or path.startswith(self.path.rstrip("/") + "/")

    def matches(self, path: str, *, is_dir: bool = False) -> bool:
        """Does a change of ``path`` trigger this rule? ``is_dir``: ``include`` is left
        to the files below (a directory rarely matches ``*.js`` itself)."""
        if not self.covers(path):
            return False
        rel = posixpath.relpath(path, self.path)
        if any(part == ".git" for part in rel.split("/")) or _EPHEMERAL.match(
                posixpath.basename(path)):
            return False
        if self.context is not None:
            ctx, ignored = self.context
            if path.startswith(ctx.rstrip("/") + "/") and ignored.matches(
                    posixpath.relpath(path, ctx)):
                return False
        if rel != "." and self.ignore.matches(rel):
            return False
        if self.include is not None and not is_dir and rel != ".":
            return self.include.matches(rel)
        return True

    def container_path(self, path: str) -> str:
        """Where the host ``path`` (covered by the rule) goes in the container."""
        assert self.target is not None
        rel = posixpath.relpath(path, self.path)
        return self.target if rel == "." else posixpath.join(self.target, rel)


def _list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError("expected a string or a list of strings", path=where)


def _patterns(values: list[str], where: str) -> Matcher:
    try:
        return Matcher(parse_patterns("\n".join(values)))
    except ContextError as e:
        raise ConfigError(str(e), path=where) from None


def _hook(raw: Any, where: str) -> Hook:
    if not isinstance(raw, dict):
        raise ConfigError("sync+exec needs exec: {command: ...}", path=where)
    cmd = raw.get("command")
    if isinstance(cmd, str):
        import shlex

        cmd = shlex.split(cmd)
    if not cmd or not isinstance(cmd, list):
        raise ConfigError("sync+exec needs a command to run", path=f"{where}.command")
    env = raw.get("environment") or {}
    if isinstance(env, dict):
        env_list = [k if v is None else f"{k}={v}" for k, v in env.items()]
    else:
        env_list = [str(e) for e in env]
    return Hook(command=[str(c) for c in cmd], user=str(raw.get("user") or ""),
                privileged=bool(raw.get("privileged", False)),
                working_dir=str(raw.get("working_dir") or ""), environment=env_list)


def _context(project: Project, service: Service) -> tuple[str, Matcher] | None:
    b = service.build
    if b is None or "://" in b.context:
        return None
    ctx = b.context if os.path.isabs(b.context) else os.path.join(project.working_dir, b.context)
    dockerfile = b.dockerfile or "Dockerfile"
    try:
        return os.path.normpath(ctx), load_dockerignore(ctx, os.path.join(ctx, dockerfile))
    except ContextError as e:
        raise ConfigError(str(e), path=f"services.{service.name}.build") from None


def service_rules(project: Project, service: Service) -> list[WatchRule]:
    """The service's ``develop.watch`` as rules; a bad rule raises ConfigError naming it."""
    develop = service.raw.get("develop") or {}
    raw_rules = (develop.get("watch") or []) if isinstance(develop, dict) else []
    base = f"services.{service.name}.develop.watch"
    if not isinstance(raw_rules, list):
        raise ConfigError("expected a list of rules", path=base)
    context = _context(project, service) if raw_rules else None
    rules = []
    for i, raw in enumerate(raw_rules):
        where = f"{base}[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError("expected a mapping with path and action", path=where)
        action = raw.get("action")
        if action not in ACTIONS:
            raise ConfigError(f"unknown action {action!r}: expected one of "
                              f"{', '.join(ACTIONS)}", path=f"{where}.action")
        path = raw.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError("path is required (the file or directory to watch)",
                              path=f"{where}.path")
        path = os.path.normpath(os.path.join(project.working_dir, os.path.expanduser(path)))
        if not os.path.exists(path):
            raise ConfigError(f"{path} does not exist", path=f"{where}.path")
        target = raw.get("target")
        if action in SYNCS:
            if not isinstance(target, str) or not target:
                raise ConfigError(f"action {action} needs a target (the path in the "
                                  f"container)", path=f"{where}.target")
            if not target.startswith("/"):
                raise ConfigError(f"{target!r} is not an absolute path in the container",
                                  path=f"{where}.target")
            target = posixpath.normpath(target)
        if action == "rebuild" and service.build is None:
            raise ConfigError(f"can't watch service {service.name!r} with action rebuild "
                              f"without a build section", path=f"{where}.action")
        include = _list(raw.get("include"), f"{where}.include")
        rules.append(WatchRule(
            service=service.name, index=i, action=action, path=path,
            target=target if action in SYNCS else None,
            ignore=_patterns(_list(raw.get("ignore"), f"{where}.ignore"), f"{where}.ignore"),
            include=_patterns(include, f"{where}.include") if include else None,
            initial_sync=bool(raw.get("initial_sync", False)),
            exec=_hook(raw.get("exec"), f"{where}.exec") if action == "sync+exec" else None,
            context=context))
    return rules


def watch_rules(project: Project, services: list[str] | None = None) -> dict[str, list[WatchRule]]:
    """``{service: rules}`` for the selected services (all when empty) that have rules.

    Raises ConfigError when none of them has any (docker compose's message)
    or when a rule is bad.
    """
    names = services or list(project.services)
    out = {}
    for name in names:
        if name not in project.services:
            raise ConfigError(f"no such service: {name}")
        rules = service_rules(project, project.services[name])
        if rules:
            out[name] = rules
    if not out:
        raise ConfigError("none of the selected services is configured for watch, consider "
                          "setting a 'develop' section")
    return out
