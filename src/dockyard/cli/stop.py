"""``dockyard stop``: SIGTERM (or the stop signal), then SIGKILL after ``-t`` seconds."""

from __future__ import annotations

import sys

import click

from dockyard.client import APIError

from .engine_client import connect, error_text, host_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-t", "--time", "--timeout", "timeout", type=int, default=None,
              help="Seconds to wait before killing the container")
@click.option("-s", "--signal", default=None, help="Signal to send to the container")
@host_option
@click.argument("containers", nargs=-1, required=True)
def stop(timeout: int | None, signal: str | None, host: str | None,
         containers: tuple[str, ...]) -> None:
    """Stop one or more running containers."""
    client = connect(host)
    failed = False
    for ref in containers:
        try:
            client.stop(ref, timeout, signal)
            click.echo(ref)
        except APIError as e:
            click.echo(error_text(e), err=True)
            failed = True
    sys.exit(1 if failed else 0)
