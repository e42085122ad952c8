"""``dockyard registry``: the OCI distribution registry server, and its tools.

    dockyard registry --root DIR [--addr 127.0.0.1:5000] [--config FILE]
                      [--tls-cert PEM --tls-key PEM] [--insecure-http]
    dockyard registry garbage-collect --root DIR [--config FILE] [--grace SECONDS]
                                      [--delete-untagged]
    dockyard registry htpasswd USER [--rounds N]     (password on stdin)

The server logs ``listening on http://HOST:PORT`` on stderr once it serves
(with the port the kernel chose for ``--addr 127.0.0.1:0``), then runs until
SIGTERM/SIGINT. ``garbage-collect`` is safe while the server runs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from dockyard.distribution.registry.config import Config


def _config(config: str | None, root: str | None, addr: str | None, tls_cert: str | None,
            tls_key: str | None, insecure_http: bool = False) -> Config:
    from dockyard.distribution.errors import ConfigError
    from dockyard.distribution.registry.config import load_config

    try:
        return load_config(config, root=root, addr=addr, tls_cert=tls_cert, tls_key=tls_key,
                           insecure_http=insecure_http)
    except ConfigError as e:
        click.echo(f"dockyard registry: {e}", err=True)
        sys.exit(125)


@click.group(invoke_without_command=True)
@click.option("--addr", default=None, help="HOST:PORT to listen on [127.0.0.1:5000]")
@click.option("--root", default=None, help="storage root (blobs, uploads, records)")
@click.option("--config", "config_path", default=None, type=click.Path(dir_okay=False),
              help="YAML config (auth, TLS, storage)")
@click.option("--tls-cert", default=None, help="certificate (PEM) for HTTPS")
@click.option("--tls-key", default=None, help="private key (PEM) for HTTPS")
@click.option("--insecure-http", is_flag=True, help="allow plain HTTP on a non-loopback address")
@click.pass_context
def registry(ctx: click.Context, addr: str | None, root: str | None, config_path: str | None,
             tls_cert: str | None, tls_key: str | None, insecure_http: bool) -> None:
    """Run an OCI distribution (Docker registry v2) server."""
    ctx.ensure_object(dict)
    ctx.obj.update(root=root, config=config_path)
    if ctx.invoked_subcommand is not None:
        return
    cfg = _config(config_path, root, addr, tls_cert, tls_key, insecure_http)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_serve(cfg))


async def _serve(cfg: Config) -> None:
    from dockyard.distribution.registry.server import RegistryServer

    server = RegistryServer(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await server.start()
        click.echo(f"dockyard registry: listening on {url} (root {cfg.root}, auth "
                   f"{cfg.auth_mode})", err=True)
        await stop.wait()
    finally:
        await server.stop()


@registry.command("garbage-collect")
@click.option("--root", default=None, help="storage root of the registry")
@click.option("--config", "config_path", default=None, type=click.Path(dir_okay=False))
@click.option("--grace", type=float, default=None,
              help="keep unreferenced blobs linked less than this many seconds ago "
                   "[storage.gc.grace, 3600]")
@click.option("--delete-untagged", "-m", is_flag=True,
              help="also delete manifests no tag reaches (index entries and referrers "
                   "of tagged manifests are kept)")
@click.pass_context
def garbage_collect(ctx: click.Context, root: str | None, config_path: str | None,
                    grace: float | None, delete_untagged: bool) -> None:
    """Remove blobs no manifest references (safe while the server runs)."""
    from dockyard.distribution.registry.gc import collect
    from dockyard.distribution.registry.storage import Registry

    cfg = _config(config_path or ctx.obj.get("config"), root or ctx.obj.get("root"), None,
                  None, None, insecure_http=True)
    reg = Registry(cfg)
    try:
        done = collect(reg, grace=grace, delete_untagged=delete_untagged)
    finally:
        reg.close()
    for m in done.manifests_removed:
        click.echo(f"deleted manifest {m}")
    for d in done.blobs_removed:
        click.echo(f"deleted {d}")
    click.echo(f"{len(done.blobs_removed)} blobs deleted, {done.bytes_freed} bytes freed, "
               f"{len(done.uploads_removed)} expired uploads removed")


@registry.command("htpasswd")
@click.argument("user")
@click.option("--rounds", type=click.IntRange(4, 16), default=10, help="bcrypt cost")
def htpasswd(user: str, rounds: int) -> None:
    """Print a bcrypt htpasswd line for USER (password read from stdin)."""
    from dockyard.distribution.registry.auth import hash_password

    if ":" in user or not user:
        raise click.BadParameter("a user name must be non-empty and without ':'", param_hint="USER")
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise click.UsageError("empty password on stdin")
    click.echo(f"{user}:{hash_password(password, rounds)}")
