"""``dockyard run``: create, attach, start, wait — docker run's sequence and exit codes.

Attach (and the wait, ``removed`` with ``--rm``) are set up before the
start so no output and no exit is missed. Exit status: the container's,
or 125 when the daemon refuses, 126 when the command cannot be invoked,
127 when it is not found.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from dockyard.client import APIError

from .create import CONTEXT, container_options, do_create
from .engine_client import connect, fail, host_option, run_exit_code, stream


@click.command(context_settings=CONTEXT)
@container_options
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print ID")
@click.option("--detach-keys", default=None, help="Override the key sequence for detaching")
@host_option
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run(image: str, command: tuple[str, ...], detach: bool, detach_keys: str | None,
        host: str | None, **opts: Any) -> None:
    """Create and run a new container from an image."""
    if detach and opts["auto_remove"] and opts["restart"] not in ("", "no"):
        fail("Conflicting options: --restart and --rm", 125, prefix="dockyard: ")
    client = connect(host)
    cid = do_create(client, image, command, opts, 125)
    if detach:
        try:
            client.start(cid)
        except APIError as e:
            fail(e.message, run_exit_code(e.message), prefix="dockyard: Error response from daemon: ")
        click.echo(cid)
        return
    h = client.attach(cid, stdin=opts["interactive"], detach_keys=detach_keys)
    result: dict[str, Any] = {}

    def waiter() -> None:
        with client.another() as c:  # its own connection: this one blocks until the exit
            try:
                result.update(c.wait(cid, "removed" if opts["auto_remove"] else "next-exit"))
            except APIError as e:
                result["error"] = e.message

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    try:
        client.start(cid)
    except APIError as e:
        h.close()
        if opts["auto_remove"]:
            t.join(10)
        fail(e.message, run_exit_code(e.message), prefix="dockyard: Error response from daemon: ")
    stream(h, tty=opts["tty"], stdin=opts["interactive"],
           resize=lambda rows, cols: _resize(client, cid, rows, cols))
    t.join()
    if "error" in result:
        fail(result["error"], 125)
    sys.exit(int(result.get("StatusCode", 0)))


def _resize(client: Any, cid: str, rows: int, cols: int) -> None:
    try:
        client.resize(cid, rows, cols)
    except APIError:
        pass
