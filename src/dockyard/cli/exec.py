"""``dockyard exec``: run a command in a running container; its exit code is ours."""

from __future__ import annotations

import os
import sys

import click

from dockyard.client import APIError

from .engine_client import (
    connect,
    daemon_errors,
    error_text,
    fail,
    host_option,
    resize_exec_quietly,
    resolve_detach_keys,
    stream,
)


@click.command(context_settings={"help_option_names": ["--help"], "allow_interspersed_args": False})
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("-w", "--workdir", default="", help="Working directory inside the container")
@click.option("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching")
@host_option
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(interactive: bool, tty: bool, detach: bool, env: tuple[str, ...], workdir: str,
          user: str, privileged: bool, detach_keys: str, host: str | None, container: str,
          command: tuple[str, ...]) -> None:
    """Execute a command in a running container."""
    with daemon_errors(1):
        _exec(interactive, tty, detach, env, workdir, user, privileged, detach_keys, host,
              container, command)


def _exec(interactive: bool, tty: bool, detach: bool, env: tuple[str, ...], workdir: str,
          user: str, privileged: bool, detach_keys: str, host: str | None, container: str,
          command: tuple[str, ...]) -> None:
    keys = resolve_detach_keys(detach_keys, 1, prefix="")
    client = connect(host)
    envs = [e if "=" in e else f"{e}={os.environ.get(e, '')}" for e in env]
    size = None
    if tty and sys.stdout.isatty():
        ts = os.get_terminal_size()
        size = (ts.lines, ts.columns)
    try:
        xid = client.exec_create(container, {
            "AttachStdin": interactive and not detach, "AttachStdout": not detach,
            "AttachStderr": not detach, "Tty": tty, "Cmd": list(command), "Env": envs or None,
            "WorkingDir": workdir, "User": user, "Privileged": privileged,
            "DetachKeys": keys})
        h = client.exec_start(xid, tty=tty, detach=detach, size=size, detach_keys=keys)
    except APIError as e:
        click.echo(error_text(e), err=True)
        sys.exit(126 if e.status == 409 else 1)
    if h is None:
        return

    if stream(h, tty=tty, stdin=interactive,
              resize=lambda rows, cols: resize_exec_quietly(client, xid, rows, cols)):
        fail("read escape sequence", 1, prefix="")  # as docker exec: the process goes on
    code = client.exec_inspect(xid).get("ExitCode")
    sys.exit(int(code) if code is not None else 0)
