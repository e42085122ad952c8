"""``ps``: the project's containers as docker compose prints them (table or JSON lines)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from dockyard.client import Client
from dockyard.compose import labels as L
from dockyard.compose.engine_api import name_of, project_containers

HEADERS = ("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS")


def _ago(created: float) -> str:
    secs = max(0.0, time.time() - created)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return f"{int(secs)} seconds ago"


def _ports(c: dict[str, Any]) -> str:
    out = []
    for p in sorted(c.get("Ports") or [], key=lambda p: (p.get("PrivatePort", 0), p.get("Type"))):
        if p.get("PublicPort"):
            out.append(f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}")
        else:
            out.append(f"{p['PrivatePort']}/{p['Type']}")
    return ", ".join(out)


def summaries(client: Client, project: str, services: Iterable[str] = (), *,
              all: bool = False) -> list[dict[str, Any]]:
    """docker compose's ``ps --format json`` objects (``Name``, ``Service``, ``State``, …)."""
    out = []
    for c in project_containers(client, project, services=services, all=all, oneoff=None):
        labels = c.get("Labels") or {}
        status = str(c.get("Status", ""))
        health = ""
        for word in ("healthy", "unhealthy", "starting"):
            if f"({word})" in status or f"(health: {word})" in status:
                health = word
                break
        out.append({
            "Command": json.dumps(c.get("Command", "")), "CreatedAt": c.get("Created", 0),
            "ExitCode": 0, "Health": health, "ID": c["Id"], "Image": c.get("Image", ""),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "Name": name_of(c), "Names": name_of(c), "Project": labels.get(L.PROJECT, ""),
            "Ports": _ports(c), "RunningFor": _ago(float(c.get("Created", 0))),
            "Service": labels.get(L.SERVICE, ""), "State": c.get("State", ""), "Status": status,
            "Publishers": [{"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort"),
                            "PublishedPort": p.get("PublicPort", 0), "Protocol": p.get("Type")}
                           for p in c.get("Ports") or []],
        })
    return out


def _command(cmd: str) -> str:
    text = cmd if len(cmd) <= 20 else cmd[:19] + "…"
    return f'"{text}"'


def table_rows(items: list[dict[str, Any]]) -> list[list[str]]:
    rows = [list(HEADERS)]
    for s in items:
        rows.append([s["Name"], s["Image"], _command(json.loads(s["Command"])), s["Service"],
                     s["RunningFor"], s["Status"], s["Ports"]])
    return rows


def format_table(rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart (docker's tabwriter)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n"
                   for r in rows)
