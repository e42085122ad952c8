"""``dockyard start``: start stopped containers (``-a`` attaches, ``-i`` with stdin).

Attached to a tty container, the detach keys (``--detach-keys``, the config
file's ``detachKeys``, else ctrl-p,ctrl-q) end the command with 0, as
docker's: the container runs on.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from dockyard.client import APIError, Client

from .engine_client import (
    connect,
    daemon_errors,
    detach_keys_option,
    error_text,
    fail,
    host_option,
    proxy_signals,
    resize_quietly,
    resolve_detach_keys,
    stream,
)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@detach_keys_option
@host_option
@click.argument("containers", nargs=-1, required=True)
def start(attach: bool, interactive: bool, detach_keys: str | None, host: str | None,
          containers: tuple[str, ...]) -> None:
    """Start one or more stopped containers."""
    with daemon_errors(1):
        _start(attach, interactive, detach_keys, host, containers)


def _start(attach: bool, interactive: bool, detach_keys: str | None, host: str | None,
           containers: tuple[str, ...]) -> None:
    client = connect(host)
    if attach or interactive:
        if len(containers) > 1:
            raise click.UsageError("you cannot start and attach multiple containers at once")
        ref = containers[0]
        keys = resolve_detach_keys(detach_keys, 1)
        result: dict[str, Any] = {}
        try:
            c = client.inspect(ref)
            ref, tty = c["Id"], bool(c["Config"]["Tty"])
            h = client.attach(ref, stdin=interactive, detach_keys=keys or None)
            # waited for before the start, so a quick exit (and a --rm's removal) is seen
            waiter = threading.Thread(target=_wait, daemon=True, args=(
                client, ref, "removed" if c["HostConfig"].get("AutoRemove") else "next-exit",
                result))
            waiter.start()
            if not tty:  # docker's start -a passes our signals on (a tty has its own keys)
                proxy_signals(client, ref)
            client.start(ref)
        except APIError as e:
            click.echo(error_text(e), err=True)
            sys.exit(1)
        if stream(h, tty=tty, stdin=interactive,
                  resize=lambda rows, cols: resize_quietly(client, ref, rows, cols)):
            sys.exit(0)  # detached: the container runs on
        waiter.join()
        if "error" in result:
            fail(result["error"])
        sys.exit(int(result.get("StatusCode", 0)))
    failed = False
    for ref in containers:
        try:
            client.start(ref)
            click.echo(ref)
        except APIError as e:
            click.echo(error_text(e), err=True)
            failed = True
    sys.exit(1 if failed else 0)


def _wait(client: Client, ref: str, condition: str, result: dict[str, Any]) -> None:
    with client.another() as c:  # its own connection: this one blocks until the exit
        try:
            result.update(c.wait(ref, condition))
        except APIError as e:
            result["error"] = e.message
