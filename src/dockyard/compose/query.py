"""Read-only project commands: ``top``, ``port``, ``images``, ``ls``.

``ls`` knows projects only through the ``com.docker.compose.project``
label of containers (as docker compose does), so it needs no compose file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose.engine_api import name_of, project_containers
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.ps import format_table


def top(client: Client, project: str, services: Iterable[str]) -> str:
    """Each running container's processes: its name, then ``ps``' table."""
    out = []
    for c in project_containers(client, project, services=services, all=False):
        try:
            t = client.top(c["Id"])
        except APIError as e:
            raise EngineCommandError(f"top {name_of(c)}: {e.message}") from None
        out.append(name_of(c) + "\n" + format_table([list(t["Titles"]),
                                                     *[list(p) for p in t["Processes"]]]))
    return "\n".join(out)


def port(client: Client, project: str, service: str, private: str, protocol: str = "tcp",
         index: int = 1) -> str:
    """``HOST_IP:HOST_PORT`` published for ``PRIVATE_PORT/protocol`` of replica ``index``."""
    if not private.isdigit() or not 0 < int(private) < 65536:
        raise EngineCommandError(f"invalid private port {private!r}: expected 1-65535")
    if protocol not in ("tcp", "udp", "sctp"):
        raise EngineCommandError(f"invalid --protocol {protocol!r}: expected tcp, udp or sctp")
    match = [c for c in project_containers(client, project, services=[service])
             if c["Labels"].get(L.CONTAINER_NUMBER) == str(index)]
    if not match:
        raise EngineCommandError(f"service {service!r} has no container #{index}")
    for p in match[0].get("Ports") or []:
        if str(p.get("PrivatePort")) == private and p.get("Type") == protocol \
                and p.get("PublicPort"):
            return f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}"
    raise EngineCommandError(f"no port {private}/{protocol} published for {service}")


def images(client: Client, project: str, services: Iterable[str]) -> list[dict[str, Any]]:
    """docker compose's ``images --format json`` objects, one per container."""
    out = []
    for c in project_containers(client, project, services=services):
        ref = str(c.get("Image", ""))
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        image_id = str(c.get("ImageID", ""))
        size = 0
        try:
            info = client.image_inspect(image_id or ref)
            size = int(info.get("Size") or 0)
        except APIError:
            pass
        out.append({"ContainerName": name_of(c), "Repository": repo or ref,
                    "Tag": tag or "latest", "ID": image_id, "Size": size})
    return out


def images_table(items: list[dict[str, Any]]) -> str:
    rows = [["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]]
    for i in items:
        rows.append([i["ContainerName"], i["Repository"], i["Tag"],
                     i["ID"].removeprefix("sha256:")[:12], _size(i["Size"])])
    return format_table(rows)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{n}B"
        n = n / 1000  # type: ignore[assignment]
    return f"{n}B"


def projects(client: Client, *, all: bool = False) -> list[dict[str, str]]:
    """``ls``: ``Name``, ``Status`` (``running(2), exited(1)``), ``ConfigFiles``."""
    by: dict[str, dict[str, Any]] = {}
    # With a config hash: compose made it (a container of an image compose built
    # inherits the image's project label without being one of the project's).
    for c in client.list(all=True, filters={"label": [L.PROJECT, L.CONFIG_HASH]}):
        labels = c.get("Labels") or {}
        p = by.setdefault(labels[L.PROJECT], {"states": {}, "files": ""})
        state = str(c.get("State", ""))
        p["states"][state] = p["states"].get(state, 0) + 1
        p["files"] = p["files"] or labels.get(L.CONFIG_FILES, "")
    out = []
    for name in sorted(by):
        states = by[name]["states"]
        if not all and "running" not in states:
            continue
        out.append({"Name": name,
                    "Status": ", ".join(f"{s}({n})" for s, n in sorted(states.items())),
                    "ConfigFiles": by[name]["files"]})
    return out
