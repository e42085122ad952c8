"""``dockyard attach``: join a running container's stdin, stdout and stderr.

docker's ``attach``: stdin too when the container has it open (unless
``--no-stdin``), the tty redrawn to our terminal's size, signals we get
passed on to a container without a tty (``--sig-proxy``, the default).
Ends with the container's exit code once it exits; on the detach keys
(``--detach-keys``, the config file's ``detachKeys``, else ctrl-p,ctrl-q)
at once, with docker's ``read escape sequence`` and 1, the container
running on.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from dockyard.client import APIError, Client

from .engine_client import (
    connect,
    daemon_errors,
    detach_keys_option,
    fail,
    host_option,
    proxy_signals,
    resize_quietly,
    resolve_detach_keys,
    sig_proxy_option,
    stream,
)
from .pflag import PflagCommand


@click.command(cls=PflagCommand, context_settings={"help_option_names": ["--help"]})
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@sig_proxy_option
@detach_keys_option
@host_option
@click.argument("container")
def attach(no_stdin: bool, sig_proxy: bool, detach_keys: str | None, host: str | None,
           container: str) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    with daemon_errors(1):
        _attach(no_stdin, sig_proxy, detach_keys, host, container)


def _attach(no_stdin: bool, sig_proxy: bool, detach_keys: str | None, host: str | None,
            container: str) -> None:
    keys = resolve_detach_keys(detach_keys, 1)
    client = connect(host)
    c = _running(client, container)
    cid, tty = c["Id"], bool(c["Config"]["Tty"])
    stdin = not no_stdin and bool(c["Config"].get("OpenStdin"))
    try:
        h = client.attach(cid, stdin=stdin, detach_keys=keys or None)
    except APIError as e:
        fail(e.message)
    _running(client, cid)  # it may have stopped meanwhile: no attach that waits forever
    if sig_proxy and not tty:
        proxy_signals(client, cid)
    if tty and sys.stdout.isatty():
        # a size other than the last one makes the program in the container redraw
        # (a shell prints its prompt again); stream() then sets the real size
        try:
            size = os.get_terminal_size(sys.stdout.fileno())
            resize_quietly(client, cid, size.lines + 1, size.columns + 1)
        except OSError:
            pass
    if stream(h, tty=tty, stdin=stdin,
              resize=lambda rows, cols: resize_quietly(client, cid, rows, cols)):
        fail("read escape sequence", 1, prefix="")
    try:
        result = client.wait(cid)
    except APIError as e:
        fail(e.message)
    if result.get("Error"):
        fail(str(result["Error"].get("Message", result["Error"])), 1, prefix="")
    sys.exit(int(result.get("StatusCode", 0)))


def _running(client: Client, ref: str) -> dict[str, Any]:
    try:
        c: dict[str, Any] = client.inspect(ref)
    except APIError as e:
        fail(e.message)
    state = c["State"]
    if not state.get("Running"):
        fail("You cannot attach to a stopped container, start it first", prefix="")
    if state.get("Paused"):
        fail("You cannot attach to a paused container, unpause it first", prefix="")
    if state.get("Restarting"):
        fail("You cannot attach to a restarting container, wait until it is running",
             prefix="")
    return c

