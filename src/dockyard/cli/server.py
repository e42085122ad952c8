"""``dockyard server`` (k3s server's role, control plane part) and
``dockyard kubeconfig``.

    dockyard server [--bind-address 127.0.0.1] [--port 6443] [--data-dir DIR]
                    [--datastore sqlite|etcd://host:port,…]
                    [--write-kubeconfig PATH] [--token-auth-file CSV]
    dockyard kubeconfig [--kubeconfig PATH]

The server logs ``listening on https://HOST:PORT`` once it is ready (with
the port the kernel chose when ``--port 0``), then runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import click

DEFAULT_DATA_DIR = "/var/lib/dockyard/server"
DEFAULT_KUBECONFIG = "/etc/dockyard/kubeconfig"


def _store_url(datastore: str, data_dir: str) -> str:
    if datastore in ("", "sqlite"):
        return "sqlite://" + os.path.join(os.path.abspath(data_dir), "state.db")
    if datastore.startswith(("etcd://", "sqlite://")):
        return datastore
    raise click.BadParameter(f"expected sqlite or etcd://host:port[,host:port…], got {datastore!r}",
                             param_hint="--datastore")


async def _serve(bind: str, port: int, data_dir: str, datastore: str, kubeconfig_path: str,
                 token_file: str | None, started: float) -> None:
    from dockyard.cluster.apiserver.server import APIServer, kubeconfig
    from dockyard.cluster.store import open_store
    from dockyard.linux.atomic import write_bytes

    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    store = open_store(_store_url(datastore, data_dir))
    server = APIServer(store, data_dir, bind_address=bind, port=port, token_auth_file=token_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        if kubeconfig_path:
            os.makedirs(os.path.dirname(os.path.abspath(kubeconfig_path)), exist_ok=True)
            write_bytes(kubeconfig_path, kubeconfig(server.pki, server.url).encode(), 0o600)
        click.echo(f"dockyard server: listening on {server.url} (ready in "
                   f"{time.monotonic() - started:.2f}s; kubeconfig {kubeconfig_path or '-'})",
                   err=True)
        await stop.wait()
    finally:
        await server.stop()
        await store.close()


@click.command()
@click.option("--bind-address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "--https-listen-port", "port", type=click.IntRange(0, 65535), default=6443,
              show_default=True, help="HTTPS port (0: pick a free one and log it).")
@click.option("--data-dir", default=DEFAULT_DATA_DIR, show_default=True,
              help="State: certificates and the sqlite store.")
@click.option("--datastore", default="sqlite", show_default=True,
              help="sqlite (in the data dir) or etcd://host:port[,host:port…].")
@click.option("--write-kubeconfig", default=DEFAULT_KUBECONFIG, show_default=True,
              help="Where to write the admin kubeconfig.")
@click.option("--token-auth-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Static tokens, Kubernetes' CSV format: token,user,uid,\"group1,group2\".")
def server(bind_address: str, port: int, data_dir: str, datastore: str, write_kubeconfig: str,
           token_auth_file: str | None) -> None:
    """Run the Kubernetes API server (like `k3s server`)."""
    from dockyard.cluster.apiserver.errors import APIError
    from dockyard.cluster.store import StoreError

    started = time.monotonic()
    _store_url(datastore, data_dir)  # bad --datastore fails before anything starts
    try:
        asyncio.run(_serve(bind_address, port, data_dir, datastore, write_kubeconfig,
                           token_auth_file, started))
    except (OSError, ValueError, StoreError, APIError) as exc:
        click.echo(f"dockyard server: {exc}", err=True)
        sys.exit(1)


@click.command()
@click.option("--kubeconfig", "path", default=DEFAULT_KUBECONFIG, show_default=True,
              help="The kubeconfig `dockyard server --write-kubeconfig` wrote.")
def kubeconfig(path: str) -> None:
    """Print the admin kubeconfig of the local server."""
    try:
        with open(path) as f:
            click.echo(f.read(), nl=False)
    except OSError as exc:
        click.echo(f"dockyard kubeconfig: cannot read {path}: {exc.strerror}; is `dockyard "
                   "server` running with --write-kubeconfig there?", err=True)
        sys.exit(1)
