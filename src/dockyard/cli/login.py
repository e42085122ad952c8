"""``dockyard login`` / ``dockyard logout``: docker's, writing Docker's
``config.json`` (``$DOCKER_CONFIG``, default ``~/.docker``) or its
credential helpers, so the docker CLI and dockyard share logins."""

from __future__ import annotations

import sys

import click

from .pull import errors_to_exit, make_options, registry_options


@click.command(context_settings={"allow_interspersed_args": False})
@click.option("-u", "--username", default=None, help="Username")
@click.option("-p", "--password", default=None, help="Password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@registry_options
@click.argument("server", required=False)
def login(username: str | None, password: str | None, password_stdin: bool, insecure: tuple[str, ...],
          mirrors: tuple[str, ...], certs_dir: str, server: str | None) -> None:
    """Log in to a registry (default: Docker Hub)."""
    from dockyard.distribution.client import login as do_login

    if password and password_stdin:
        click.echo("--password and --password-stdin are mutually exclusive", err=True)
        sys.exit(1)
    if password_stdin:
        if not username:
            click.echo("Must provide --username with --password-stdin", err=True)
            sys.exit(1)
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True)
    if not username:
        username = click.prompt("Username")
    if not password:
        password = click.prompt("Password", hide_input=True)
    with errors_to_exit():
        click.echo(do_login(server, username or "", password or "",
                            options=make_options(insecure, mirrors, certs_dir)))


@click.command()
@click.argument("server", required=False)
def logout(server: str | None) -> None:
    """Log out from a registry (default: Docker Hub)."""
    from dockyard.distribution.client import logout as do_logout

    with errors_to_exit():
        click.echo(do_logout(server))
