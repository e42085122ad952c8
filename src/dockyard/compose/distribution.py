"""``pull`` and ``push``: services' images through the engine
(``POST /images/create``, ``POST /images/{name}/push``).

``pull`` takes every service with an ``image:`` (a failure on a service that
also has ``build:`` is only a warning: it can be built); ``push`` takes the
services with ``build:``, under their image name, as docker compose does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dockyard.client import APIError, Client
from dockyard.compose.build import image_name
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.model import Project

Say = Callable[[str, str], None]


def _split(ref: str) -> tuple[str, str | None]:
    """``repo:tag`` → (repo, tag); a digest or no tag leaves the tag to the engine."""
    last = ref.rsplit("/", 1)[-1]
    if "@" in last or ":" not in last:
        return ref, None
    repo, _, tag = ref.rpartition(":")
    return repo, tag


def _drain(messages: Iterator[dict[str, Any]], what: str) -> None:
    try:
        for msg in messages:
            if msg.get("error") or msg.get("errorDetail"):
                detail = msg.get("error") or (msg.get("errorDetail") or {}).get("message")
                raise EngineCommandError(f"{what}: {str(detail).strip()}")
    except APIError as e:
        raise EngineCommandError(f"{what}: {e.message}") from None


def pull(client: Client, project: Project, services: list[str], say: Say, *,
         ignore_failures: bool = False) -> None:
    failed = []
    for name in services or list(project.services):
        svc = project.services[name]
        if not svc.image or svc.pull_policy in ("build", "never"):
            continue
        say(f"{name}", "Pulling")
        try:
            _drain(client.pull(*_split(svc.image)), f"pull {name} ({svc.image})")
        except EngineCommandError as e:
            if svc.build is not None or ignore_failures:
                say(f"{name}", f"Warning {e}")
                continue
            failed.append(str(e))
            continue
        say(f"{name}", "Pulled")
    if failed:
        raise EngineCommandError("; ".join(failed))


def push(client: Client, project: Project, services: list[str], say: Say, *,
         ignore_failures: bool = False) -> None:
    for name in services or list(project.services):
        svc = project.services[name]
        if svc.build is None:
            continue
        ref = image_name(project, svc)
        say(f"{name}", "Pushing")
        try:
            _drain(client.push(*_split(ref)), f"push {name} ({ref})")
        except EngineCommandError as e:
            if not ignore_failures:
                raise
            say(f"{name}", f"Warning {e}")
            continue
        say(f"{name}", "Pushed")
