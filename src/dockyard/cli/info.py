"""``dockyard info``: the daemon's system-wide information."""

from __future__ import annotations

import json
import sys

import click

from dockyard.client import APIError, ConnectionFailed

from .engine_client import connect, host_option, render


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--format", "fmt", default=None, help="Format output using a Go template")
@host_option
def info(fmt: str | None, host: str | None) -> None:
    """Display system-wide information."""
    try:
        with connect(host) as c:
            doc = c.info()
    except (APIError, ConnectionFailed) as e:
        click.echo(str(e), err=True)
        sys.exit(1)
    if fmt:
        click.echo(render(fmt, doc) if fmt != "json" else json.dumps(doc))
        return
    lines = [
        "Server:",
        f" Containers: {doc['Containers']}",
        f"  Running: {doc['ContainersRunning']}",
        f"  Paused: {doc['ContainersPaused']}",
        f"  Stopped: {doc['ContainersStopped']}",
        f" Images: {doc['Images']}",
        f" Server Version: {doc['ServerVersion']}",
        f" Storage Driver: {doc['Driver']}",
        f" Logging Driver: {doc['LoggingDriver']}",
        f" Cgroup Driver: {doc['CgroupDriver']}",
        f" Cgroup Version: {doc['CgroupVersion']}",
        f" Kernel Version: {doc['KernelVersion']}",
        f" Operating System: {doc['OperatingSystem']}",
        f" CPUs: {doc['NCPU']}",
        f" Total Memory: {doc['MemTotal'] / 1024**3:.2f}GiB",
        f" Name: {doc['Name']}",
        f" ID: {doc['ID']}",
        f" Docker Root Dir: {doc['DockerRootDir']}",
        f" Live Restore Enabled: {str(doc['LiveRestoreEnabled']).lower()}",
    ]
    click.echo("\n".join(lines))
