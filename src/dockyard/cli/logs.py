"""``dockyard logs``: stdout to stdout, stderr to stderr, ``-f``, ``--tail``, ``-t``, ``--since``."""

from __future__ import annotations

import struct
import sys

import click

from dockyard.client import APIError

from .engine_client import connect, error_text, host_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("-n", "--tail", default="all", help="Number of lines to show from the end")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--since", default=None, help="Show logs since timestamp (unix or RFC 3339)")
@click.option("--until", default=None, help="Show logs before a timestamp")
@host_option
@click.argument("container")
def logs(follow: bool, tail: str, timestamps: bool, since: str | None, until: str | None,
         host: str | None, container: str) -> None:
    """Fetch the logs of a container."""
    client = connect(host)
    try:
        tty = bool(client.inspect(container)["Config"]["Tty"])
        chunks = client.logs(container, stdout=True, stderr=True, follow=follow, tail=tail,
                             timestamps=timestamps, since=since, until=until)
        out, err = sys.stdout.buffer, sys.stderr.buffer
        buf = b""
        for chunk in chunks:
            if tty:
                out.write(chunk)
                out.flush()
                continue
            buf += chunk
            while len(buf) >= 8:
                stream, size = struct.unpack(">BxxxI", buf[:8])
                if len(buf) < 8 + size:
                    break
                (err if stream == 2 else out).write(buf[8:8 + size])
                buf = buf[8 + size:]
            out.flush()
            err.flush()
    except APIError as e:
        click.echo(error_text(e), err=True)
        sys.exit(1)
