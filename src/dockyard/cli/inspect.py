"""``dockyard inspect``: containers' JSON (an array, indented as docker's) or ``-f``."""

from __future__ import annotations

import json
import sys

import click

from dockyard.client import APIError

from .engine_client import connect, host_option, render


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--format", "fmt", default=None, help="Format output using a Go template")
@host_option
@click.argument("objects", nargs=-1, required=True)
def inspect(fmt: str | None, host: str | None, objects: tuple[str, ...]) -> None:
    """Return low-level information on containers."""
    client = connect(host)
    docs, failed = [], False
    for ref in objects:
        try:
            docs.append(client.inspect(ref))
        except APIError as e:
            if e.status != 404:
                click.echo(f"Error response from daemon: {e.message}", err=True)
            else:
                click.echo(f"Error: No such object: {ref}", err=True)
            failed = True
    if fmt:
        for d in docs:
            click.echo(render(fmt, d))
    else:
        click.echo(json.dumps(docs, indent=4))
    sys.exit(1 if failed else 0)
