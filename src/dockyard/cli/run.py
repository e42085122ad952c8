"""``dockyard run``: create, attach, start, wait — docker run's sequence and exit codes.

Attach (and the wait, ``removed`` with ``--rm``) are set up before the
start so no output and no exit is missed. Exit status: the container's,
or 125 when the daemon refuses, 126 when the command cannot be invoked,
127 when it is not found. With ``-t``, the detach keys (``--detach-keys``,
the config file's ``detachKeys``, else ctrl-p,ctrl-q) end the run at once
with 0 and nothing printed, as docker's: the container (even ``--rm``'s)
runs on.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from dockyard.client import APIError

from .create import CONTEXT, container_options, do_create
from .engine_client import (
    connect,
    daemon_errors,
    detach_keys_option,
    fail,
    host_option,
    proxy_signals,
    resize_quietly,
    resolve_detach_keys,
    run_exit_code,
    sig_proxy_option,
    stream,
)
from .pflag import PflagCommand


@click.command(cls=PflagCommand, context_settings=CONTEXT)
@container_options
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print ID")
@detach_keys_option
@sig_proxy_option
@host_option
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run(image: str, command: tuple[str, ...], detach: bool, detach_keys: str | None,
        sig_proxy: bool, host: str | None, **opts: Any) -> None:
    """Create and run a new container from an image."""
    with daemon_errors(125, prefix="dockyard: "):
        _run(image, command, detach, detach_keys, sig_proxy, host, opts)


def _run(image: str, command: tuple[str, ...], detach: bool, detach_keys: str | None,
         sig_proxy: bool, host: str | None, opts: dict[str, Any]) -> None:
    if detach and opts["auto_remove"] and opts["restart"] not in ("", "no"):
        fail("Conflicting options: --restart and --rm", 125, prefix="dockyard: ")
    keys = "" if detach else resolve_detach_keys(detach_keys, 125, prefix="dockyard: ")
    client = connect(host)
    cid = do_create(client, image, command, opts, 125)
    if detach:
        try:
            client.start(cid)
        except APIError as e:
            fail(e.message, run_exit_code(e.message), prefix="dockyard: Error response from daemon: ")
        click.echo(cid)
        return
    h = client.attach(cid, stdin=opts["interactive"], detach_keys=keys or None)
    result: dict[str, Any] = {}

    def waiter() -> None:
        with client.another() as c:  # its own connection: this one blocks until the exit
            try:
                result.update(c.wait(cid, "removed" if opts["auto_remove"] else "next-exit"))
            except APIError as e:
                result["error"] = e.message

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    if sig_proxy:
        proxy_signals(client, cid)
    try:
        client.start(cid)
    except APIError as e:
        h.close()
        if opts["auto_remove"]:
            t.join(10)
        fail(e.message, run_exit_code(e.message), prefix="dockyard: Error response from daemon: ")
    if stream(h, tty=opts["tty"], stdin=opts["interactive"],
              resize=lambda rows, cols: resize_quietly(client, cid, rows, cols)):
        sys.exit(0)  # detached: the container runs on, its exit is nobody's here
    t.join()
    if "error" in result:
        fail(result["error"], 125)
    sys.exit(int(result.get("StatusCode", 0)))
