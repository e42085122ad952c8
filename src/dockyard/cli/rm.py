"""``dockyard rm``: remove containers (``-f`` kills running ones first)."""

from __future__ import annotations

import sys

import click

from dockyard.client import APIError

from .engine_client import connect, error_text, host_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes")
@host_option
@click.argument("containers", nargs=-1, required=True)
def rm(force: bool, volumes: bool, host: str | None, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    client = connect(host)
    failed = False
    for ref in containers:
        try:
            client.remove(ref, force=force, volumes=volumes)
            click.echo(ref)
        except APIError as e:
            click.echo(error_text(e), err=True)
            failed = True
    sys.exit(1 if failed else 0)
