"""``dockyard kill|restart|pause|unpause|wait|rename|top``: one API call per container.

Docker's output: each command prints the names it was given (``wait``
prints exit codes, ``top`` the process table); an error goes to stderr as
``Error response from daemon: …`` and the exit status is 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from dockyard.client import APIError, Client

from .engine_client import connect, error_text, host_option, print_table

CTX = {"help_option_names": ["-h", "--help"]}


def _each(host: str | None, refs: tuple[str, ...], call: Callable[[Client, str], object],
          show: Callable[[str, object], str] = lambda ref, _out: ref) -> None:
    client = connect(host)
    failed = False
    for ref in refs:
        try:
            click.echo(show(ref, call(client, ref)))
        except APIError as e:
            click.echo(error_text(e), err=True)
            failed = True
    sys.exit(1 if failed else 0)


@click.command(context_settings=CTX)
@click.option("-s", "--signal", default="KILL", help="Signal to send to the container")
@host_option
@click.argument("containers", nargs=-1, required=True)
def kill(signal: str, host: str | None, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    _each(host, containers, lambda c, ref: c.kill(ref, signal))


@click.command(context_settings=CTX)
@click.option("-t", "--time", "--timeout", "timeout", type=int, default=None,
              help="Seconds to wait before killing the container")
@click.option("-s", "--signal", default=None, help="Signal to send to the container")
@host_option
@click.argument("containers", nargs=-1, required=True)
def restart(timeout: int | None, signal: str | None, host: str | None,
            containers: tuple[str, ...]) -> None:
    """Restart one or more containers."""
    _each(host, containers, lambda c, ref: c.restart(ref, timeout, signal))


@click.command(context_settings=CTX)
@host_option
@click.argument("containers", nargs=-1, required=True)
def pause(host: str | None, containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    _each(host, containers, lambda c, ref: c.pause(ref))


@click.command(context_settings=CTX)
@host_option
@click.argument("containers", nargs=-1, required=True)
def unpause(host: str | None, containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    _each(host, containers, lambda c, ref: c.unpause(ref))


@click.command(context_settings=CTX)
@host_option
@click.argument("containers", nargs=-1, required=True)
def wait(host: str | None, containers: tuple[str, ...]) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    _each(host, containers, lambda c, ref: c.wait(ref),
          lambda _ref, out: str(out["StatusCode"]))  # type: ignore[index]


@click.command(context_settings=CTX)
@host_option
@click.argument("container")
@click.argument("new_name")
def rename(host: str | None, container: str, new_name: str) -> None:
    """Rename a container."""
    client = connect(host)
    try:
        client.rename(container, new_name)
    except APIError as e:
        click.echo(error_text(e), err=True)
        sys.exit(1)


@click.command(context_settings={**CTX, "allow_interspersed_args": False})
@host_option
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
def top(host: str | None, container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    client = connect(host)
    try:
        doc = client.top(container, " ".join(ps_args) or None)
    except APIError as e:
        click.echo(error_text(e), err=True)
        sys.exit(1)
    print_table([doc["Titles"], *doc["Processes"]])
