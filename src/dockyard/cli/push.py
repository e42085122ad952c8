"""``dockyard push``: docker's push, in-process for now (see ``cli.pull``)."""

from __future__ import annotations

import click

from .pull import DEFAULT_ROOT, Renderer, errors_to_exit, make_options, registry_options


@click.command(context_settings={"allow_interspersed_args": False})
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("--root", envvar="DOCKYARD_ROOT", default=None, metavar="DIR",
              help=f"Root of dockyard's state (default {DEFAULT_ROOT})")
@click.option("--chunk-size", default=0, type=int, metavar="BYTES",
              help="Upload blobs in chunks of this size (default: one request per blob)")
@registry_options
@click.argument("name")
def push(quiet: bool, root: str | None, chunk_size: int, insecure: tuple[str, ...],
         mirrors: tuple[str, ...], certs_dir: str, name: str) -> None:
    """Upload an image to a registry."""
    import dataclasses

    from dockyard.distribution.client import push as do_push
    from dockyard.distribution.client.credentials import ConfigFile
    from dockyard.images import ImageService

    with errors_to_exit():
        options = dataclasses.replace(make_options(insecure, mirrors, certs_dir), chunk_size=chunk_size)
        svc = ImageService.open(root or DEFAULT_ROOT)
        try:
            with Renderer(quiet) as render:
                do_push(svc, name, options=options, config=ConfigFile(), progress=render)
        finally:
            svc.close()
        if quiet:  # docker prints the reference it pushed
            from dockyard.distribution.client.pull import parse_reference

            click.echo(str(parse_reference(name)))
