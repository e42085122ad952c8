"""``dockyard version``: client and server versions (``--format`` as docker's)."""

from __future__ import annotations

import platform
import sys

import click

import dockyard
from dockyard.client import ConnectionFailed

from .engine_client import connect, host_option, render


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--format", "fmt", default=None, help="Format output using a Go template")
@host_option
def version(fmt: str | None, host: str | None) -> None:
    """Show the dockyard version information."""
    client_info = {"Version": dockyard.__version__, "ApiVersion": "1.50",
                   "GoVersion": f"python{platform.python_version()}", "Os": "linux",
                   "Arch": platform.machine()}
    server = None
    try:
        with connect(host) as c:
            server = c.version()
    except ConnectionFailed as e:
        err = str(e)
    doc = {"Client": client_info, "Server": server}
    if fmt:
        click.echo(render(fmt, doc))
    else:
        click.echo(f"Client:\n Version:           {client_info['Version']}\n"
                   f" API version:       {client_info['ApiVersion']}\n"
                   f" Python version:    {client_info['GoVersion']}\n"
                   f" OS/Arch:           linux/{client_info['Arch']}")
        if server:
            click.echo(f"\nServer: {server['Platform']['Name']}\n Engine:\n"
                       f"  Version:          {server['Version']}\n"
                       f"  API version:      {server['ApiVersion']} (minimum version "
                       f"{server['MinAPIVersion']})\n"
                       f"  OS/Arch:          {server['Os']}/{server['Arch']}")
    if server is None:
        click.echo(err, err=True)
        sys.exit(1)
