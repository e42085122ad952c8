"""``dockyard start``: start stopped containers (``-a`` attaches, ``-i`` with stdin)."""

from __future__ import annotations

import sys

import click

from dockyard.client import APIError

from .engine_client import connect, error_text, host_option, stream


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@host_option
@click.argument("containers", nargs=-1, required=True)
def start(attach: bool, interactive: bool, host: str | None, containers: tuple[str, ...]) -> None:
    """Start one or more stopped containers."""
    client = connect(host)
    if attach or interactive:
        if len(containers) > 1:
            raise click.UsageError("you cannot start and attach multiple containers at once")
        ref = containers[0]
        try:
            tty = bool(client.inspect(ref)["Config"]["Tty"])
            h = client.attach(ref, stdin=interactive)
            client.start(ref)
        except APIError as e:
            click.echo(error_text(e), err=True)
            sys.exit(1)
        stream(h, tty=tty, stdin=interactive, resize=None)
        sys.exit(int(client.wait(ref).get("StatusCode", 0)))
    failed = False
    for ref in containers:
        try:
            client.start(ref)
            click.echo(ref)
        except APIError as e:
            click.echo(error_text(e), err=True)
            failed = True
    sys.exit(1 if failed else 0)
