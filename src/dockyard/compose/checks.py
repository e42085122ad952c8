"""Consistency checks docker compose makes once a project is whole.

Run on the canonical form (``normalize.py``), before anything is created:

- every service has an ``image`` or a ``build``;
- ``depends_on`` (and implicit dependencies from ``network_mode: service:``,
  ``volumes_from``, ``links``) names services that exist;
- no dependency cycle (the error spells the cycle out: ``a -> b -> a``);
- networks, named volumes, secrets and configs a service uses are defined
  at the top level (``default`` is implicit);
- no two published ports claim the same host address, port and protocol
  (a wildcard address overlaps every other address), counting replicas;
- per service: no two mounts on one target, ``network_mode`` without
  ``networks``, ``dockerfile`` or ``dockerfile_inline``, ``scale`` agreeing
  with ``deploy.replicas``;
- ``container_name`` is unique and used by one replica only, and it and
  volume names follow docker's name rule (``[a-zA-Z0-9][a-zA-Z0-9_.-]+``):
  a name such as ``../../etc`` is refused here, before any layer below
  could take it for a path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dockyard.compose.errors import ProjectValidationError

_WILDCARDS = {"", "0.0.0.0", "::"}
_DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def check_project(project: Mapping[str, Any], file: str | None = None) -> None:
    services: Mapping[str, Any] = project.get("services") or {}
    for name, svc in services.items():
        if not svc.get("image") and not svc.get("build"):
            raise ProjectValidationError(
                f'service "{name}" has neither an image nor a build context specified',
                file=file, path=f"services.{name}",
            )
        for dep in svc.get("depends_on") or {}:
            if dep not in services:
                raise ProjectValidationError(
                    f'service "{name}" depends on undefined service "{dep}"',
                    file=file, path=f"services.{name}.depends_on",
                )
        _check_refs(project, name, svc, file)
        _check_service(name, svc, file)
    cycle = find_cycle({n: list(s.get("depends_on") or {}) for n, s in services.items()})
    if cycle:
        raise ProjectValidationError(
            "dependency cycle detected: " + " -> ".join(cycle),
            file=file, path=f"services.{cycle[0]}.depends_on",
        )
    _check_ports(services, file)
    _check_names(project, file)


def _check_names(project: Mapping[str, Any], file: str | None) -> None:
    owners: dict[str, str] = {}
    for name, svc in (project.get("services") or {}).items():
        cname = svc.get("container_name")
        if cname is None:
            continue
        where = f"services.{name}.container_name"
        if not _DOCKER_NAME.match(str(cname)):
            raise ProjectValidationError(
                f"invalid container name {cname!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                file=file, path=where)
        replicas = svc.get("scale") or (svc.get("deploy") or {}).get("replicas") or 1
        if replicas > 1:
            raise ProjectValidationError(
                f"services.{name}: can't set container_name and {name} as container name must be "
                f"unique ({replicas} replicas)", file=file, path=where)
        if cname in owners:
            raise ProjectValidationError(
                f"container name {cname!r} is already used by service {owners[cname]}",
                file=file, path=where)
        owners[cname] = name
    for key, vol in (project.get("volumes") or {}).items():
        vname = str(vol.get("name", ""))
        if not _DOCKER_NAME.match(vname):
            raise ProjectValidationError(
                f"invalid volume name {vname!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                file=file, path=f"volumes.{key}.name")


def _check_refs(project: Mapping[str, Any], name: str, svc: Mapping[str, Any], file: str | None) -> None:
    networks = project.get("networks") or {}
    for net in svc.get("networks") or {}:
        if net not in networks:
            raise ProjectValidationError(
                f'service "{name}" refers to undefined network {net}',
                file=file, path=f"services.{name}.networks.{net}",
            )
    volumes = project.get("volumes") or {}
    for i, vol in enumerate(svc.get("volumes") or []):
        if vol.get("type") == "volume" and vol.get("source") and vol["source"] not in volumes:
            raise ProjectValidationError(
                f'service "{name}" refers to undefined volume {vol["source"]}',
                file=file, path=f"services.{name}.volumes[{i}]",
            )
    for kind in ("secrets", "configs"):
        defined = project.get(kind) or {}
        for i, ref in enumerate(svc.get(kind) or []):
            if ref.get("source") not in defined:
                raise ProjectValidationError(
                    f'service "{name}" refers to undefined {kind[:-1]} {ref.get("source")}',
                    file=file, path=f"services.{name}.{kind}[{i}]",
                )
        build = svc.get("build") or {}
        if kind == "secrets":
            for i, ref in enumerate(build.get("secrets") or []):
                if ref.get("source") not in defined:
                    raise ProjectValidationError(
                        f'service "{name}" refers to undefined build secret {ref.get("source")}',
                        file=file, path=f"services.{name}.build.secrets[{i}]",
                    )


def _check_service(name: str, svc: Mapping[str, Any], file: str | None) -> None:
    """compose-go's per-service consistency rules."""
    here = f"services.{name}"
    build = svc.get("build") or {}
    if build.get("dockerfile") and build.get("dockerfile_inline"):
        raise ProjectValidationError(
            f'service "{name}" declares mutually exclusive dockerfile and dockerfile_inline',
            file=file, path=f"{here}.build")
    if svc.get("network_mode") and svc.get("networks"):
        raise ProjectValidationError(
            f"service {name} declares mutually exclusive `network_mode` and `networks`",
            file=file, path=here)
    replicas = (svc.get("deploy") or {}).get("replicas")
    if svc.get("scale") is not None and replicas is not None and svc["scale"] != replicas:
        raise ProjectValidationError(
            "can't set distinct values on 'scale' and 'deploy.replicas'", file=file, path=here)
    for key, value in (("scale", svc.get("scale")), ("deploy.replicas", replicas)):
        if value is not None and value < 0:
            raise ProjectValidationError("must be greater than or equal to 0", file=file,
                                         path=f"{here}.{key}")
    mounts: dict[str, str] = {}
    targets = [(f"{here}.tmpfs[{i}]", str(t).split(":")[0]) for i, t in enumerate(svc.get("tmpfs") or [])]
    targets += [(f"{here}.volumes[{i}]", str(v.get("target"))) for i, v in enumerate(svc.get("volumes") or [])]
    for where, target in targets:
        if target in mounts:
            raise ProjectValidationError(f"target {target} already mounted as {mounts[target]}",
                                         file=file, path=where)
        mounts[target] = where


def find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, a]``, or None. Depth-first, deterministic order."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, [])):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if state.get(dep) is None:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def _published_ports(published: str) -> range:
    lo, _, hi = published.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def _check_ports(services: Mapping[str, Any], file: str | None) -> None:
    claims: list[tuple[str, str, int, str]] = []  # (where, host_ip, port, protocol)
    for name, svc in sorted(services.items()):
        replicas = svc.get("scale") or (svc.get("deploy") or {}).get("replicas") or 1
        for i, port in enumerate(svc.get("ports") or []):
            published = port.get("published")
            if not published:
                continue
            try:
                ports = _published_ports(str(published))
            except ValueError:
                raise ProjectValidationError(
                    f"invalid published port {published!r}", file=file,
                    path=f"services.{name}.ports[{i}].published",
                ) from None
            if replicas > 1 and len(ports) == 1:
                raise ProjectValidationError(
                    f'service "{name}" has {replicas} replicas but publishes the fixed '
                    f"host port {published}: the replicas would conflict",
                    file=file, path=f"services.{name}.ports[{i}]",
                )
            host_ip = str(port.get("host_ip") or "")
            proto = str(port.get("protocol") or "tcp")
            where = f"services.{name}.ports[{i}]"
            for number in ports:
                for other, o_ip, o_port, o_proto in claims:
                    overlap = host_ip == o_ip or host_ip in _WILDCARDS or o_ip in _WILDCARDS
                    if o_port == number and o_proto == proto and overlap:
                        raise ProjectValidationError(
                            f"host port {host_ip + ':' if host_ip else ''}{number}/{proto} "
                            f"is already published by {other}",
                            file=file, path=where,
                        )
            claims.extend((where, host_ip, n, proto) for n in ports)
