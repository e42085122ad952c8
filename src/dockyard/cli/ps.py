"""``dockyard ps``: docker's table, ``-a``, ``-q``, ``--filter``, ``--format``, ``--no-trunc``."""

from __future__ import annotations

import sys
from typing import Any

import click

from dockyard.client import APIError

from .engine_client import connect, error_text, format_rows, host_option, print_table, since

HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
           "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
           "State": "STATE", "Labels": "LABELS", "CreatedAt": "CREATED AT"}


def _row(c: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    import time

    cmd = c.get("Command", "")
    if not no_trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    labels = c.get("Labels") or {}
    return {
        "ID": c["Id"] if no_trunc else c["Id"][:12], "Image": c.get("Image", ""),
        "Command": f'"{cmd}"', "RunningFor": since(c.get("Created", 0)),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c.get("Created", 0))),
        "Status": c.get("Status", ""), "Ports": _ports(c.get("Ports") or []),
        "State": c.get("State", ""),
        "Names": ",".join(n.lstrip("/") for n in c.get("Names") or []),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
    }


def _ports(ports: list[dict[str, Any]]) -> str:
    """docker's ``0.0.0.0:8080->80/tcp, 443/tcp``."""
    out = []
    for p in ports:
        if p.get("PublicPort"):
            out.append(f"{p.get('IP', '0.0.0.0')}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}")
        else:
            out.append(f"{p['PrivatePort']}/{p['Type']}")
    return ", ".join(out)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output (key=value)")
@click.option("--format", "fmt", default=None, help="Format output using a Go template")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-n", "--last", type=int, default=None, help="Show n last created containers")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container")
@host_option
def ps(all_: bool, quiet: bool, filters: tuple[str, ...], fmt: str | None, no_trunc: bool,
       last: int | None, latest: bool, host: str | None) -> None:
    """List containers."""
    f: dict[str, list[str]] = {}
    for item in filters:
        k, sep, v = item.partition("=")
        if not sep:
            raise click.BadParameter(f"bad format of filter (expected name=value): {item}",
                                     param_hint="--filter")
        f.setdefault(k, []).append(v)
    limit = 1 if latest else last
    try:
        with connect(host) as client:
            items = client.list(all=all_ or bool(limit), filters=f, limit=limit)
    except APIError as e:
        click.echo(error_text(e), err=True)
        sys.exit(1)
    rows = [_row(c, no_trunc) for c in items]
    if quiet:
        for r in rows:
            click.echo(r["ID"])
        return
    if fmt:
        format_rows(fmt, rows, HEADERS)
        return
    cols = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
    print_table([[HEADERS[c] for c in cols]] + [[r[c] for c in cols] for r in rows])
