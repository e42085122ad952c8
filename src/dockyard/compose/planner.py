"""Planning ``up``: what to do with each service replica, as a pure function.

``up`` is a one-shot reconcile (compose v1's ``convergence_plan``, v2's
``convergence.go``): compare each service's config hash with the
``com.docker.compose.config-hash`` label of its existing containers and
decide, per replica number:

    create     no container with that number
    recreate   hash differs, the image changed (the ID the service's image
               resolves to now differs from the ``com.docker.compose.image``
               label: a rebuild, a pull, a retag), ``--force-recreate``, or a
               dependency was recreated
    start      same hash, container not running
    noop       same hash, running
    remove     replica numbers above the wanted scale

then list orphans: containers of the project whose service is gone.
Services are handled in dependency order, level by level
(:func:`dependency_levels`); services on one level may run in parallel.
The engine-driving ``up`` executes the plan; this module never calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.compose import labels as L
from dockyard.compose.errors import ProjectValidationError
from dockyard.compose.model import Project, Service

_RUNNING = {"running", "restarting", "paused"}


@dataclass(frozen=True)
class ExistingContainer:
    """A container as the engine lists it: id, name, labels, state."""

    id: str
    name: str
    labels: Mapping[str, str]
    state: str = "running"

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> ExistingContainer:
        """From a ``GET /containers/json`` entry (``Id``, ``Names``, ``Labels``, ``State``)."""
        names = item.get("Names") or [item.get("Name") or ""]
        return cls(id=str(item.get("Id", "")), name=str(names[0]).lstrip("/"),
                   labels=dict(item.get("Labels") or {}), state=str(item.get("State", "running")))

    @property
    def number(self) -> int:
        try:
            return int(self.labels.get(L.CONTAINER_NUMBER, "0"))
        except ValueError:
            return 0


@dataclass(frozen=True)
class Action:
    kind: str  # create | recreate | start | noop | remove
    service: str
    number: int
    name: str  # the container's name (the new one for create/recreate)
    container: str | None = None  # id of the existing container it concerns
    reason: str = ""


@dataclass
class Plan:
    levels: list[list[str]]
    actions: list[Action] = field(default_factory=list)
    orphans: list[ExistingContainer] = field(default_factory=list)

    def for_service(self, service: str) -> list[Action]:
        return [a for a in self.actions if a.service == service]

    def kinds(self) -> dict[str, list[str]]:
        """``{"web": ["recreate", "create"], …}``: handy in tests and ``--dry-run``."""
        out: dict[str, list[str]] = {}
        for a in self.actions:
            out.setdefault(a.service, []).append(a.kind)
        return out


def dependency_levels(project: Project, services: Iterable[str] | None = None) -> list[list[str]]:
    """Services (``services`` and their dependencies, or all) in start order, in levels
    that depend only on earlier levels: ``[["cache", "db"], ["api"], ["web"]]``."""
    wanted = with_dependencies(project, services) if services is not None else set(project.services)
    deps = {
        name: {d for d in project.services[name].depends_on if d in wanted}
        for name in wanted
    }
    levels: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(wanted):
        level = sorted(n for n in wanted - done if deps[n] <= done)
        if not level:
            stuck = sorted(wanted - done)
            raise ProjectValidationError(f"dependency cycle detected among {', '.join(stuck)}")
        levels.append(level)
        done.update(level)
    return levels


def with_dependencies(project: Project, services: Iterable[str]) -> set[str]:
    out: set[str] = set()
    todo = list(services)
    while todo:
        name = todo.pop()
        if name in out or name not in project.services:
            continue
        out.add(name)
        todo.extend(project.services[name].depends_on)
    return out


def config_hash(service: Service) -> str:
    return L.config_hash(service.raw)


def plan(
    project: Project,
    existing: Iterable[ExistingContainer | Mapping[str, Any]],
    *,
    services: Iterable[str] | None = None,
    force_recreate: bool = False,
    no_recreate: bool = False,
    scale: Mapping[str, int] | None = None,
    known_services: Iterable[str] = (),
    image_ids: Mapping[str, str] | None = None,
) -> Plan:
    """Decide create/recreate/start/noop/remove per replica; list orphans.

    ``existing`` holds the engine's containers (any project; others are
    ignored). ``services`` limits the plan to those services and their
    dependencies; ``known_services`` names services that exist but are
    disabled (profiles), whose containers are not orphans. ``image_ids``
    maps services to the image ID their image resolves to now; a container
    whose ``com.docker.compose.image`` label differs is recreated (services
    left out, e.g. an image not yet pulled, are not compared).
    """
    if force_recreate and no_recreate:
        raise ValueError("--force-recreate and --no-recreate are incompatible")
    containers = [c if isinstance(c, ExistingContainer) else ExistingContainer.from_api(c)
                  for c in existing]
    mine = [c for c in containers
            if c.labels.get(L.PROJECT) == project.name and c.labels.get(L.ONEOFF) != "True"]
    levels = dependency_levels(project, services)
    result = Plan(levels=levels)
    recreated: set[str] = set()
    for level in levels:
        for name in level:
            svc = project.services[name]
            current = sorted((c for c in mine if c.labels.get(L.SERVICE) == name),
                             key=lambda c: (c.number, c.name))
            wanted = (scale or {}).get(name, svc.replicas)
            digest = config_hash(svc)
            image_id = (image_ids or {}).get(name)
            changed_deps = sorted(d for d in svc.depends_on if d in recreated)
            kept: dict[int, ExistingContainer] = {}
            for c in current:
                if 1 <= c.number <= wanted and c.number not in kept:
                    kept[c.number] = c
                else:
                    result.actions.append(Action("remove", name, c.number, c.name, c.id,
                                                 "scaled down" if c.number > wanted else "duplicate"))
            for number in range(1, wanted + 1):
                new_name = svc.container_name or L.container_name(project.name, name, number)
                old = kept.get(number)
                if old is None:
                    result.actions.append(Action("create", name, number, new_name))
                    continue
                c = old
                reason = ""
                if not no_recreate:
                    if force_recreate:
                        reason = "--force-recreate"
                    elif c.labels.get(L.CONFIG_HASH) != digest:
                        reason = "configuration changed"
                    elif image_id and c.labels.get(L.IMAGE) != image_id:
                        reason = "image changed"
                    elif changed_deps:
                        reason = f"dependency recreated: {', '.join(changed_deps)}"
                if reason:
                    result.actions.append(Action("recreate", name, number, new_name, c.id, reason))
                    recreated.add(name)
                elif c.state not in _RUNNING:
                    result.actions.append(Action("start", name, number, c.name, c.id, f"container is {c.state}"))
                else:
                    result.actions.append(Action("noop", name, number, c.name, c.id, "up to date"))
    present = set(project.services) | set(known_services)
    result.orphans = sorted((c for c in mine if c.labels.get(L.SERVICE) not in present),
                            key=lambda c: c.name)
    return result
