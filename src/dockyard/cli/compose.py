"""``dockyard compose …``: docker compose's command line.

The global flags (``-f``, ``-p``, ``--project-directory``, ``--env-file``,
``--profile``) go before the subcommand, as with docker compose. So far the
commands that need no engine: ``config``. Errors print docker compose's
way and exit with its codes: 14 when no compose file is found, 15 when a
project does not load (``ComposeParseFailure``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import click


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="Compose configuration files (several are merged in order; - is stdin)")
@click.option("-p", "--project-name", default=None, help="Project name")
@click.option("--project-directory", default=None, metavar="DIR",
              help="Alternate working directory (default: the first compose file's directory)")
@click.option("--env-file", "env_files", multiple=True, metavar="FILE",
              help="Alternate environment files (instead of .env)")
@click.option("--profile", "profiles", multiple=True, help="Profiles to enable")
@click.pass_context
def compose(ctx: click.Context, files: tuple[str, ...], project_name: str | None,
            project_directory: str | None, env_files: tuple[str, ...],
            profiles: tuple[str, ...]) -> None:
    """Define and run multi-container applications (docker compose)."""
    ctx.obj = {
        "files": list(files), "project_name": project_name,
        "project_directory": project_directory, "env_files": list(env_files),
        "profiles": list(profiles),
    }


def load(ctx: click.Context, services: Iterable[str] = (), *, interpolate: bool = True,
         consistency: bool = True) -> Any:
    """Load the project the global flags select; exit 14/15 with the error on failure."""
    from dockyard.compose.errors import ComposeError
    from dockyard.compose.loader import ProjectOptions, load_project

    obj = ctx.obj or {}
    options = ProjectOptions(
        config_files=obj.get("files", []), project_name=obj.get("project_name"),
        project_directory=obj.get("project_directory"), env_files=obj.get("env_files", []),
        profiles=obj.get("profiles", []), services=list(services), interpolate=interpolate,
        consistency=consistency,
    )
    try:
        loaded = load_project(options)
    except ComposeError as e:
        _fail(str(e), e.exit_code)
    for warning in loaded.warnings:
        click.echo(f"WARN[0000] {warning}", err=True)
    return loaded


@compose.command("config")
@click.argument("services", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              help="Format the output")
@click.option("-q", "--quiet", is_flag=True, help="Only validate the configuration, print nothing")
@click.option("--services", "list_services", is_flag=True, help="Print the service names, one per line")
@click.option("--volumes", "list_volumes", is_flag=True, help="Print the volume names, one per line")
@click.option("--profiles", "list_profiles", is_flag=True, help="Print the profile names, one per line")
@click.option("--images", "list_images", is_flag=True, help="Print the image names, one per line")
@click.option("--hash", "hash_of", default=None, metavar="SERVICES",
              help='Print the config hash of services ("*" for all)')
@click.option("--no-interpolate", is_flag=True, help="Don't interpolate environment variables")
@click.option("--no-consistency", is_flag=True,
              help="Don't check model consistency - warning: may produce invalid Compose output")
@click.option("-o", "--output", default=None, metavar="FILE", help="Save to file (default stdout)")
@click.pass_context
def config(ctx: click.Context, services: tuple[str, ...], fmt: str, quiet: bool,
           list_services: bool, list_volumes: bool, list_profiles: bool, list_images: bool,
           hash_of: str | None, no_interpolate: bool, no_consistency: bool,
           output: str | None) -> None:
    """Parse, resolve and render the compose file in canonical format."""
    from dockyard.compose.labels import config_hash
    from dockyard.compose.output import escape_dollars, to_json, to_yaml

    loaded = load(ctx, services, interpolate=not no_interpolate, consistency=not no_consistency)
    cfg = loaded.config
    if quiet:
        return
    lines: list[str] | None = None
    if list_services:
        lines = list(cfg["services"])
    elif list_volumes:
        lines = sorted(cfg.get("volumes") or {})
    elif list_profiles:
        lines = loaded.all_profiles
    elif list_images:
        lines = [s.get("image") or f"{cfg['name']}-{name}" for name, s in cfg["services"].items()]
    elif hash_of is not None:
        wanted = list(cfg["services"]) if hash_of == "*" else [s.strip() for s in hash_of.split(",")]
        lines = []
        for name in sorted(wanted):
            if name not in cfg["services"]:
                _fail(f"no such service: {name}", 1)
            lines.append(f"{name} {config_hash(cfg['services'][name])}")
    if lines is not None:
        text = "".join(f"{line}\n" for line in lines)
    else:
        text = to_json(cfg) if fmt == "json" else to_yaml(cfg)
        if not no_interpolate:
            text = escape_dollars(text)
    if output:
        from dockyard.linux.atomic import write_bytes

        write_bytes(output, text.encode())
    else:
        click.echo(text, nl=False)
