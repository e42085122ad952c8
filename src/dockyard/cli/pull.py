"""``dockyard pull`` (and ``search``): docker's pull, in-process for now.

Opens the image service on ``--root`` like ``dockyard image …`` and runs
``distribution.client.pull``, drawing its progress messages as rich
progress bars (one per layer) on a terminal and as docker's plain lines
(``<id>: Pull complete``) otherwise. Registry settings that dockerd reads
from ``daemon.json`` are flags here until the daemon owns them:
``--insecure-registry``, ``--registry-mirror``, ``--certs-dir``.
Errors print ``Error response from daemon: …`` and exit 1, as docker does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

DEFAULT_ROOT = "/var/lib/dockyard"


def registry_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The daemon.json registry settings, as flags of the in-process commands."""
    f = click.option("--certs-dir", envvar="DOCKYARD_CERTS_DIR", default="/etc/docker/certs.d",
                     show_default=True, help="Directory of <host:port>/ca.crt, client.cert, client.key")(f)
    f = click.option("--registry-mirror", "mirrors", multiple=True, metavar="URL",
                     help="Mirror for docker.io pulls (repeatable)")(f)
    f = click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST",
                     help="Registry (host:port or CIDR) allowed over plain HTTP (repeatable)")(f)
    return f


def make_options(insecure: tuple[str, ...], mirrors: tuple[str, ...], certs_dir: str) -> Any:
    from dockyard.distribution.client import RegistryOptions

    return RegistryOptions(insecure_registries=insecure, mirrors=mirrors, certs_dir=certs_dir)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error response from daemon: {message}", err=True)
    sys.exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    from dockyard.distribution.errors import DistributionError
    from dockyard.images.errors import ImageError

    try:
        yield
    except (DistributionError, ImageError, ValueError) as e:
        fail(str(e))


class Renderer:
    """Docker's progress messages → rich bars (a terminal) or plain lines."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.quiet = quiet
        self.console = Console(stderr=False)
        self.live = self.console.is_terminal and not quiet
        self.bars = Progress(TextColumn("{task.fields[id]}: {task.description}"), BarColumn(),
                             DownloadColumn(), TransferSpeedColumn(), console=self.console,
                             disable=not self.live)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Renderer:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(None, None, None)

    def __call__(self, msg: dict[str, Any]) -> None:
        if self.quiet:
            return
        status, ident = msg.get("status", ""), msg.get("id")
        detail = msg.get("progressDetail") or {}
        if ident and "current" in detail:
            if self.live:
                task = self._task(ident, status)
                self.bars.update(task, description=status, completed=detail["current"],
                                 total=detail.get("total") or None)
            return
        if ident and (ident in self.tasks or status in ("Pulling fs layer", "Preparing", "Waiting")):
            if self.live:  # the layer's bar shows its latest status
                self.bars.update(self._task(ident, status), description=status)
                return
        if "aux" in msg or not status:
            return
        line = f"{ident}: {status}" if ident else status
        if self.live:
            self.bars.console.print(line, highlight=False, soft_wrap=True)
        else:
            click.echo(line)

    def _task(self, ident: str, status: str) -> Any:
        if ident not in self.tasks:
            self.tasks[ident] = self.bars.add_task(status, id=ident, total=None)
        return self.tasks[ident]


@click.command(context_settings={"allow_interspersed_args": False})
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images in the repository")
@click.option("--platform", default=None, metavar="OS/ARCH[/VARIANT]", help="Set platform if server is multi-platform capable")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("--root", envvar="DOCKYARD_ROOT", default=None, metavar="DIR",
              help=f"Root of dockyard's state (default {DEFAULT_ROOT})")
@registry_options
@click.argument("name")
def pull(all_tags: bool, platform: str | None, quiet: bool, root: str | None, insecure: tuple[str, ...],
         mirrors: tuple[str, ...], certs_dir: str, name: str) -> None:
    """Download an image from a registry."""
    from dockyard.distribution.client import pull as do_pull
    from dockyard.distribution.client.credentials import ConfigFile
    from dockyard.images import ImageService

    with errors_to_exit():
        options = make_options(insecure, mirrors, certs_dir)
        svc = ImageService.open(root or DEFAULT_ROOT)
        try:
            with Renderer(quiet) as render:
                images = do_pull(svc, name, platform=platform, all_tags=all_tags, options=options,
                                 config=ConfigFile(), progress=render)
        finally:
            svc.close()
        from dockyard.distribution.client.pull import parse_reference

        # docker prints the full reference pulled (the repository with -a).
        named = parse_reference(name, default_tag=not all_tags)
        click.echo(str(named) if images else name)


@click.command(context_settings={"allow_interspersed_args": False})
@click.option("--limit", default=25, show_default=True, type=int, help="Max number of search results")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@registry_options
@click.argument("term")
def search(limit: int, no_trunc: bool, insecure: tuple[str, ...], mirrors: tuple[str, ...],
           certs_dir: str, term: str) -> None:
    """Search registries for images (``host:port/term`` searches that registry)."""
    from dockyard.distribution.client import search as do_search

    with errors_to_exit():
        results = do_search(term, limit=limit, options=make_options(insecure, mirrors, certs_dir))
    click.echo(f"{'NAME':<30} {'DESCRIPTION':<45} {'STARS':<6} {'OFFICIAL'}")
    for r in results:
        desc = r.description if no_trunc or len(r.description) <= 45 else r.description[:42] + "..."
        click.echo(f"{r.name:<30} {desc:<45} {r.star_count:<6} {'[OK]' if r.is_official else ''}")
