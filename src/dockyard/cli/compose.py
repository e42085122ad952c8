"""``dockyard compose …``: docker compose's command line.

The global flags (``-f``, ``-p``, ``--project-directory``, ``--env-file``,
``--profile``) go before the subcommand, as with docker compose. ``config`` needs
no engine; the others drive one through the Docker Engine API (``$DOCKER_HOST`` or
``-H``); ``run`` and ``exec`` pipe our stdin (``-i``, pflag's ``-i=false``) and
pick a tty as docker compose does (``_tty``). Errors print docker compose's way and
exit with its codes: 14 when no compose file is found, 15 when a project does not
load (``ComposeParseFailure``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import click

from .pflag import PflagCommand


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
@click.option("-H", "--host", default=None, metavar="unix://PATH",
              help="Daemon socket (default $DOCKER_HOST or unix:///run/dockyard/dockyard.sock)")
@click.pass_context
def compose(ctx: click.Context, files: tuple[str, ...], project_name: str | None,
            project_directory: str | None, env_files: tuple[str, ...],
            profiles: tuple[str, ...], host: str | None) -> None:
    """Define and run multi-container applications (docker compose)."""
    ctx.obj = {
        "files": list(files), "project_name": project_name,
        "project_directory": project_directory, "env_files": list(env_files),
        "profiles": list(profiles), "host": host,
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


# --- the commands that drive an engine (Docker Engine API, $DOCKER_HOST) ------------------


def _say(obj: str, status: str) -> None:
    """docker compose's progress lines (plain mode): `` Container p-web-1  Started``."""
    click.echo(f" {obj}  {status}", err=True)


def _engine(ctx: click.Context, services: Iterable[str] = (), *,
            target: bool = False) -> tuple[Any, Any]:
    """(loaded project, client); the project is loaded before anything touches the engine.
    ``target``: loaded for ``services`` (their profiles enabled, the others disabled)."""
    from dockyard.client import Client, ConnectionFailed

    loaded = load(ctx, services if target else ())
    unknown = [s for s in services if s not in loaded.project.services]
    if unknown:
        _fail(f"no such service: {unknown[0]}", 1)
    try:
        return loaded, Client(ctx.obj.get("host"))
    except ConnectionFailed as e:
        _fail(str(e), 1)
        raise


def _run(fn: Any, *args: Any, **kw: Any) -> Any:
    """Call a compose command; its errors print and exit as docker compose's do."""
    from dockyard.client.errors import ClientError
    from dockyard.compose.errors import ComposeError

    try:
        return fn(*args, **kw)
    except ComposeError as e:
        _fail(str(e), e.exit_code)
    except ClientError as e:
        _fail(f"Error response from daemon: {e}", 1)


@compose.command("up")
@click.argument("services", nargs=-1)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run containers in the background")
@click.option("--force-recreate", is_flag=True, help="Recreate containers even if unchanged")
@click.option("--no-recreate", is_flag=True, help="Don't recreate existing containers")
@click.option("--remove-orphans", is_flag=True, envvar="COMPOSE_REMOVE_ORPHANS",
              help="Remove containers for services not defined in the Compose file "
                   "(default: $COMPOSE_REMOVE_ORPHANS)")
@click.option("--scale", multiple=True, metavar="SERVICE=NUM", help="Scale SERVICE to NUM instances")
@click.option("--wait", is_flag=True, help="Wait for services to be running|healthy (implies -d)")
@click.option("--wait-timeout", type=int, default=120, help="Maximum seconds to wait with --wait")
@click.option("--no-log-prefix", is_flag=True, help="Don't print prefix in logs")
@click.option("--abort-on-container-exit", is_flag=True,
              help="Stops all containers if any container was stopped")
@click.option("--build", "do_build", is_flag=True, help="Build images before starting containers")
@click.option("--no-build", is_flag=True, help="Don't build an image, even if it's missing")
@click.option("--exit-code-from", default=None, metavar="SERVICE",
              help="Return the exit code of the selected service container "
                   "(implies --abort-on-container-exit)")
@click.option("-w", "--watch", "watch_files", is_flag=True,
              help="Watch source code and rebuild/refresh containers when files are updated")
@click.pass_context
def up_cmd(ctx: click.Context, services: tuple[str, ...], detach: bool, force_recreate: bool,
           no_recreate: bool, remove_orphans: bool, scale: tuple[str, ...], wait: bool,
           wait_timeout: int, no_log_prefix: bool, do_build: bool, no_build: bool,
           abort_on_container_exit: bool, exit_code_from: str | None,
           watch_files: bool = False) -> None:
    """Create and start containers."""
    from dockyard.compose.attached import check_exit_code_from, run_until_first_exit
    from dockyard.compose.engine_api import project_containers
    from dockyard.compose.logs import print_logs
    from dockyard.compose.up import UpOptions, parse_scale, up

    if force_recreate and no_recreate:
        _fail("--force-recreate and --no-recreate are incompatible", 1)
    abort = abort_on_container_exit or exit_code_from is not None
    if abort and (detach or wait):
        _fail("--abort-on-container-exit and --exit-code-from are incompatible with "
              "--detach and --wait", 1)
    loaded, client = _engine(ctx, services)
    project = loaded.project
    watch_rules = _watch_rules(project, services, detach or wait) if watch_files else None
    if exit_code_from is not None:
        from dockyard.compose.planner import dependency_levels

        in_up = [n for lv in dependency_levels(project, list(services) or None) for n in lv]
        _run(check_exit_code_from, in_up, exit_code_from)
    if do_build and no_build:
        _fail("--build and --no-build are incompatible", 1)
    if not no_build:
        from dockyard.compose.build import build
        from dockyard.compose.planner import dependency_levels

        wanted = [n for lv in dependency_levels(project, list(services) or None) for n in lv]
        _run(build, client, project, wanted, lambda t: click.echo(t, err=True), _say,
             missing_only=not do_build)
    opts = UpOptions(services=list(services), force_recreate=force_recreate,
                     no_recreate=no_recreate, remove_orphans=remove_orphans,
                     scale=_run(parse_scale, scale, project), wait=wait,
                     wait_timeout=wait_timeout, known_services=loaded.disabled_services)
    plan = _run(up, client, project, opts, _say)
    if detach or wait:
        return
    names = [n for level in plan.levels for n in level]
    containers = project_containers(client, project.name, services=names)
    click.echo("Attaching to " + ", ".join(c["Names"][0].lstrip("/") for c in containers))
    if watch_rules is not None:
        _watch_in_background(ctx, project, watch_rules)
    if abort:
        from dockyard.compose.lifecycle import stop as stop_project

        code = _run(run_until_first_exit, client, containers, click.echo,
                    lambda: stop_project(client, project, names, _say), _say,
                    exit_code_from=exit_code_from, prefix=not no_log_prefix)
        sys.exit(code)
    try:
        print_logs(client, containers, click.echo, follow=True, prefix=not no_log_prefix)
    except KeyboardInterrupt:
        from dockyard.compose.lifecycle import stop

        click.echo("Gracefully stopping... (press Ctrl+C again to force)", err=True)
        _run(stop, client, project, names, _say)


@compose.command("down")
@click.argument("services", nargs=-1)
@click.option("-v", "--volumes", is_flag=True, help="Remove named volumes and anonymous volumes")
@click.option("--remove-orphans", is_flag=True, envvar="COMPOSE_REMOVE_ORPHANS",
              help="Remove containers for services not defined in the Compose file "
                   "(default: $COMPOSE_REMOVE_ORPHANS)")
@click.option("-t", "--timeout", type=int, default=None, help="Shutdown timeout in seconds")
@click.option("--rmi", default=None, metavar="local|all",
              help='Remove images used by services: "local" only those compose built '
                   '(without a custom tag), "all" every service\'s too')
@click.pass_context
def down_cmd(ctx: click.Context, services: tuple[str, ...], volumes: bool,
             remove_orphans: bool, timeout: int | None, rmi: str | None) -> None:
    """Stop and remove containers, networks (and with -v volumes, with --rmi images).
    SERVICES: only theirs (their profiles enabled), and their dependents'."""
    from dockyard.compose.lifecycle import RMI, down

    if rmi is not None and rmi not in RMI:
        _fail(f"invalid --rmi {rmi!r}: expected local or all", 1)
    loaded, client = _engine(ctx, services, target=True)
    _run(down, client, loaded.project, _say, volumes=volumes, remove_orphans=remove_orphans,
         timeout=timeout, rmi=rmi, known_services=loaded.disabled_services, services=services)


@compose.command("ps")
@click.argument("services", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all stopped containers")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs")
@click.option("--services", "list_services", is_flag=True, help="Display services")
@click.option("--format", "fmt", default="table", help="Format the output: table or json")
@click.pass_context
def ps_cmd(ctx: click.Context, services: tuple[str, ...], all_: bool, quiet: bool,
           list_services: bool, fmt: str) -> None:
    """List containers."""
    import json

    from dockyard.compose.ps import format_table, summaries, table_rows

    loaded, client = _engine(ctx, services)
    items = _run(summaries, client, loaded.project.name, services, all=all_)
    if quiet:
        click.echo("".join(s["ID"] + "\n" for s in items), nl=False)
    elif list_services:
        click.echo("".join(f"{s}\n" for s in dict.fromkeys(s["Service"] for s in items)), nl=False)
    elif fmt == "json":
        click.echo("".join(json.dumps(s) + "\n" for s in items), nl=False)
    elif fmt == "table":
        click.echo(format_table(table_rows(items)), nl=False)
    else:
        _fail(f"invalid --format {fmt!r}: expected table or json", 1)


@compose.command("logs")
@click.argument("services", nargs=-1)
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("-n", "--tail", default="all", help="Number of lines to show from the end")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--no-log-prefix", is_flag=True, help="Don't print prefix in logs")
@click.pass_context
def logs_cmd(ctx: click.Context, services: tuple[str, ...], follow: bool, tail: str,
             timestamps: bool, no_log_prefix: bool) -> None:
    """View output from containers."""
    from dockyard.compose.engine_api import project_containers
    from dockyard.compose.logs import print_logs

    loaded, client = _engine(ctx, services)
    containers = _run(project_containers, client, loaded.project.name, services=services)
    try:
        print_logs(client, containers, click.echo, follow=follow, tail=tail,
                   timestamps=timestamps, prefix=not no_log_prefix)
    except KeyboardInterrupt:
        pass


def _simple(name: str, help_text: str, *, timeout: bool = False, signal: bool = False) -> None:
    """stop / start / restart / kill: the same shape, one lifecycle function each."""

    @click.argument("services", nargs=-1)
    @click.pass_context
    def cmd(ctx: click.Context, /, services: tuple[str, ...], **kw: Any) -> None:
        from dockyard.compose import lifecycle

        loaded, client = _engine(ctx, services)
        _run(getattr(lifecycle, name), client, loaded.project, services, _say, **kw)

    cmd.__doc__ = help_text
    if timeout:
        cmd = click.option("-t", "--timeout", type=int, default=None,
                           help="Specify a shutdown timeout in seconds")(cmd)
    if signal:
        cmd = click.option("-s", "--signal", default=None,
                           help="SIGNAL to send to the container")(cmd)
    compose.command(name)(cmd)


_simple("stop", "Stop services.", timeout=True)
_simple("start", "Start services.")
_simple("restart", "Restart service containers.", timeout=True)
_simple("kill", "Force stop service containers.", signal=True)


@compose.command("rm")
@click.argument("services", nargs=-1)
@click.option("-f", "--force", is_flag=True, help="Don't ask to confirm removal")
@click.option("-s", "--stop", "stop_first", is_flag=True, help="Stop the containers, if required")
@click.option("-v", "--volumes", is_flag=True, help="Remove any anonymous volumes attached")
@click.pass_context
def rm_cmd(ctx: click.Context, services: tuple[str, ...], force: bool, stop_first: bool,
           volumes: bool) -> None:
    """Removes stopped service containers (without asking: as with -f)."""
    from dockyard.compose.lifecycle import rm

    loaded, client = _engine(ctx, services)
    removed = _run(rm, client, loaded.project, services, _say, stop_first=stop_first,
                   volumes=volumes)
    if not removed:
        click.echo("No stopped containers", err=True)


class _PflagBools(PflagCommand):
    """docker compose's boolean flags take a value too, as pflag's do (``-i=false``,
    ``--interactive=0``, ``--tty=true``): rewritten to the click switch before parsing."""

    SWITCHES = {"-i": "interactive", "--interactive": "interactive", "-t": "tty", "--tty": "tty"}


def _tty(ctx: click.Context, tty: bool, no_tty: bool, *, detached: bool = False) -> bool | None:
    """docker compose's run/exec tty: ``-t``/``-T`` as given (not both); else one when our
    stdout is a terminal, and our stdin too unless ``-i`` was given. ``detached``: None (the
    service's ``tty:``) unless given: there is no terminal of ours to follow."""
    from click.core import ParameterSource

    given = {n for n in ("tty", "no_tty", "interactive")
             if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE}
    if {"tty", "no_tty"} <= given:
        _fail("--tty and --no-TTY can't be used together", 1)
    if "tty" in given:
        return tty
    if no_tty:
        return False
    if detached:
        return None
    return sys.stdout.isatty() and ("interactive" in given or sys.stdin.isatty())


_interactive = click.option("-i", "--interactive/--no-interactive", default=True,
                            help="Keep STDIN open (default; -i=false: no stdin)")
_tty_flag = click.option("-t", "--tty/--no-tty", default=True, hidden=True,
                         help="Allocate a pseudo-TTY")


@compose.command("exec", cls=_PflagBools, context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("-T", "--no-TTY", "no_tty", is_flag=True,
              help="Disable pseudo-TTY allocation (default: auto-detected)")
@_interactive
@_tty_flag
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("-u", "--user", default="", help="Run the command as this user")
@click.option("-w", "--workdir", default="", help="Path to workdir directory for this command")
@click.option("--index", type=int, default=1, help="Index of the container if service has replicas")
@click.argument("service")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_cmd(ctx: click.Context, detach: bool, no_tty: bool, interactive: bool, tty: bool,
             env: tuple[str, ...], user: str, workdir: str, index: int, service: str,
             command: tuple[str, ...]) -> None:
    """Execute a command in a running container."""
    from dockyard.cli.engine_client import resize_exec_quietly, resolve_detach_keys, stream
    from dockyard.compose import labels as L
    from dockyard.compose.engine_api import project_containers

    loaded, client = _engine(ctx, [service])
    match = [c for c in _run(project_containers, client, loaded.project.name, services=[service],
                             all=False)
             if c["Labels"].get(L.CONTAINER_NUMBER) == str(index)]
    if not match:
        _fail(f"service {service!r} is not running", 1)
    tty = bool(_tty(ctx, tty, no_tty, detached=detach))
    stdin = interactive and not detach
    keys = resolve_detach_keys(None, 1, prefix="")  # the docker CLI's config file, as compose
    xid = _run(client.exec_create, match[0]["Id"], {
        "AttachStdin": stdin, "AttachStdout": not detach,
        "AttachStderr": not detach, "Tty": tty, "Cmd": list(command), "Env": list(env) or None,
        "WorkingDir": workdir, "User": user, "DetachKeys": keys})
    h = _run(client.exec_start, xid, tty=tty, detach=detach, detach_keys=keys)
    if h is None:
        return
    if stream(h, tty=tty, stdin=stdin,
              resize=lambda rows, cols: resize_exec_quietly(client, xid, rows, cols)):
        _fail("read escape sequence", 1)  # docker exec's words: the process goes on
    code = client.exec_inspect(xid).get("ExitCode")
    sys.exit(int(code) if code is not None else 0)


@compose.command("run", cls=_PflagBools, context_settings={"allow_interspersed_args": False})
@click.option("--rm", "auto_remove", is_flag=True, help="Remove the container when it exits")
@click.option("-d", "--detach", is_flag=True, help="Run container in background")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("-l", "--label", "labels", multiple=True, help="Add or override a label")
@click.option("-v", "--volume", "volumes", multiple=True, help="Bind mount a volume")
@click.option("-p", "--publish", multiple=True, help="Publish a container's port(s) to the host")
@click.option("--service-ports", is_flag=True,
              help="Run command with all service's ports enabled and mapped to the host")
@click.option("--no-deps", is_flag=True, help="Don't start linked services")
@click.option("--name", default=None, help="Assign a name to the container")
@click.option("-T", "--no-TTY", "no_tty", is_flag=True,
              help="Disable pseudo-TTY allocation (default: auto-detected)")
@_interactive
@_tty_flag
@click.option("--entrypoint", default=None, help="Override the entrypoint of the image")
@click.option("-w", "--workdir", default=None, help="Working directory inside the container")
@click.option("-u", "--user", default=None, help="Run as specified username or uid")
@click.argument("service")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run_cmd(ctx: click.Context, auto_remove: bool, detach: bool, env: tuple[str, ...],
            labels: tuple[str, ...], volumes: tuple[str, ...], publish: tuple[str, ...],
            service_ports: bool, no_deps: bool, name: str | None, no_tty: bool,
            interactive: bool, tty: bool, entrypoint: str | None, workdir: str | None, user: str | None, service: str,
            command: tuple[str, ...]) -> None:
    """Run a one-off command on a service (its dependencies are brought up first)."""
    from dockyard.cli.engine_client import stream
    from dockyard.compose.run import RunOptions, run_oneoff

    chosen = _tty(ctx, tty, no_tty, detached=detach)
    loaded, client = _engine(ctx, [service])
    opts = RunOptions(env=list(env), labels=list(labels), volumes=list(volumes),
                      publish=list(publish), service_ports=service_ports, no_deps=no_deps,
                      name=name, detach=detach, auto_remove=auto_remove, tty=chosen,
                      interactive=interactive,
                      entrypoint=entrypoint, workdir=workdir, user=user,
                      known_services=loaded.disabled_services)
    code = _run(run_oneoff, client, loaded.project, service, list(command) or None, _say,
                opts, click.echo, lambda h, t, i, resize: stream(h, tty=t, stdin=i,
                                                                  resize=resize))
    sys.exit(code)


# --- pause / unpause / top / port / images / ls / wait / create / scale -------------------


@compose.command("pause")
@click.argument("services", nargs=-1)
@click.pass_context
def pause_cmd(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Pause services."""
    from dockyard.compose.control import pause

    loaded, client = _engine(ctx, services)
    _run(pause, client, loaded.project.name, services, _say)


@compose.command("unpause")
@click.argument("services", nargs=-1)
@click.pass_context
def unpause_cmd(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Unpause services."""
    from dockyard.compose.control import unpause

    loaded, client = _engine(ctx, services)
    _run(unpause, client, loaded.project.name, services, _say)


@compose.command("top")
@click.argument("services", nargs=-1)
@click.pass_context
def top_cmd(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Display the running processes."""
    from dockyard.compose.query import top

    loaded, client = _engine(ctx, services)
    click.echo(_run(top, client, loaded.project.name, services), nl=False)


@compose.command("port")
@click.option("--protocol", default="tcp", help="tcp or udp")
@click.option("--index", type=int, default=1, help="Index of the container if service has replicas")
@click.argument("service")
@click.argument("private_port")
@click.pass_context
def port_cmd(ctx: click.Context, protocol: str, index: int, service: str,
             private_port: str) -> None:
    """Print the public port for a port binding."""
    from dockyard.compose.query import port

    loaded, client = _engine(ctx, [service])
    click.echo(_run(port, client, loaded.project.name, service, private_port, protocol, index))


@compose.command("images")
@click.argument("services", nargs=-1)
@click.option("--format", "fmt", default="table", help="Format the output: table or json")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs")
@click.pass_context
def images_cmd(ctx: click.Context, services: tuple[str, ...], fmt: str, quiet: bool) -> None:
    """List images used by the created containers."""
    import json

    from dockyard.compose.query import images, images_table

    if fmt not in ("table", "json"):
        _fail(f"invalid --format {fmt!r}: expected table or json", 1)
    loaded, client = _engine(ctx, services)
    items = _run(images, client, loaded.project.name, services)
    if quiet:
        click.echo("".join(f"{i}\n" for i in dict.fromkeys(x["ID"] for x in items)), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(items))
    else:
        click.echo(images_table(items), nl=False)


@compose.command("ls")
@click.option("-a", "--all", "all_", is_flag=True, help="Show all stopped Compose projects")
@click.option("--format", "fmt", default="table", help="Format the output: table or json")
@click.option("-q", "--quiet", is_flag=True, help="Only display project names")
@click.pass_context
def ls_cmd(ctx: click.Context, all_: bool, fmt: str, quiet: bool) -> None:
    """List running compose projects (found by their containers' labels, no file needed)."""
    import json

    from dockyard.client import Client, ConnectionFailed
    from dockyard.compose.ps import format_table
    from dockyard.compose.query import projects

    if fmt not in ("table", "json"):
        _fail(f"invalid --format {fmt!r}: expected table or json", 1)
    try:
        client = Client(ctx.obj.get("host"))
    except ConnectionFailed as e:
        _fail(str(e), 1)
    items = _run(projects, client, all=all_)
    if quiet:
        click.echo("".join(f"{p['Name']}\n" for p in items), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(items))
    else:
        click.echo(format_table([["NAME", "STATUS", "CONFIG FILES"],
                                 *[[p["Name"], p["Status"], p["ConfigFiles"]] for p in items]]),
                   nl=False)


@compose.command("wait")
@click.argument("services", nargs=-1, required=True)
@click.option("--down-project", is_flag=True, help="Drops project when the first container stops")
@click.pass_context
def wait_cmd(ctx: click.Context, services: tuple[str, ...], down_project: bool) -> None:
    """Block until the containers of all (or specified) services stop; print exit codes."""
    from dockyard.compose.control import wait

    loaded, client = _engine(ctx, services)
    codes = _run(wait, client, loaded.project.name, list(services))
    for _, code in codes:
        click.echo(str(code))
    if down_project:
        from dockyard.compose.lifecycle import down

        _run(down, client, loaded.project, _say, known_services=loaded.disabled_services)
    sys.exit(codes[0][1] if codes else 0)


@compose.command("create")
@click.argument("services", nargs=-1)
@click.option("--force-recreate", is_flag=True, help="Recreate containers even if unchanged")
@click.option("--no-recreate", is_flag=True, help="Don't recreate existing containers")
@click.option("--remove-orphans", is_flag=True, envvar="COMPOSE_REMOVE_ORPHANS",
              help="Remove containers for services not defined in the Compose file "
                   "(default: $COMPOSE_REMOVE_ORPHANS)")
@click.option("--scale", multiple=True, metavar="SERVICE=NUM", help="Scale SERVICE to NUM instances")
@click.pass_context
def create_cmd(ctx: click.Context, services: tuple[str, ...], force_recreate: bool,
               no_recreate: bool, remove_orphans: bool, scale: tuple[str, ...]) -> None:
    """Creates containers for a service (none is started)."""
    from dockyard.compose.up import UpOptions, parse_scale, up

    if force_recreate and no_recreate:
        _fail("--force-recreate and --no-recreate are incompatible", 1)
    loaded, client = _engine(ctx, services)
    project = loaded.project
    opts = UpOptions(services=list(services), force_recreate=force_recreate,
                     no_recreate=no_recreate, remove_orphans=remove_orphans,
                     scale=_run(parse_scale, scale, project),
                     known_services=loaded.disabled_services, no_start=True)
    _run(up, client, project, opts, _say)


@compose.command("scale")
@click.argument("scales", nargs=-1, required=True, metavar="SERVICE=REPLICAS...")
@click.pass_context
def scale_cmd(ctx: click.Context, scales: tuple[str, ...]) -> None:
    """Scale services (as up -d --scale SERVICE=N for just those services)."""
    from dockyard.compose.up import UpOptions, parse_scale, up

    loaded, client = _engine(ctx)
    project = loaded.project
    wanted = _run(parse_scale, scales, project)
    opts = UpOptions(services=list(wanted), scale=wanted,
                     known_services=loaded.disabled_services)
    _run(up, client, project, opts, _say)


@compose.command("cp")
@click.option("--index", type=int, default=1, help="Index of the container if service has replicas")
@click.argument("src")
@click.argument("dest")
@click.pass_context
def cp_cmd(ctx: click.Context, index: int, src: str, dest: str) -> None:
    """Copy files/folders between a service container and the local filesystem
    (SERVICE:SRC_PATH DEST_PATH, or SRC_PATH SERVICE:DEST_PATH)."""
    from dockyard.compose.cp import copy

    loaded, client = _engine(ctx)
    _run(copy, client, loaded.project.name, list(loaded.project.services), src, dest, index)


@compose.command("build")
@click.argument("services", nargs=-1)
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option("--build-arg", multiple=True, metavar="KEY=VALUE", help="Set build-time variables")
@click.option("-q", "--quiet", is_flag=True, help="Don't print anything to STDOUT")
@click.pass_context
def build_cmd(ctx: click.Context, services: tuple[str, ...], no_cache: bool, pull: bool,
              build_arg: tuple[str, ...], quiet: bool) -> None:
    """Build or rebuild services (through the engine's POST /build)."""
    import os

    from dockyard.compose.build import build

    args = {}
    for a in build_arg:
        k, sep, v = a.partition("=")
        if not k:
            _fail(f"invalid --build-arg {a!r}: expected KEY=VALUE", 1)
        args[k] = v if sep else os.environ.get(k, "")
    loaded, client = _engine(ctx, services)
    _run(build, client, loaded.project, list(services), (lambda t: None) if quiet else click.echo,
         _say, no_cache=no_cache, pull=pull, build_args=args)


@compose.command("pull")
@click.argument("services", nargs=-1)
@click.option("--ignore-pull-failures", is_flag=True, help="Pull what it can and ignore images "
              "with pull failures")
@click.option("-q", "--quiet", is_flag=True, help="Pull without printing progress information")
@click.pass_context
def pull_cmd(ctx: click.Context, services: tuple[str, ...], ignore_pull_failures: bool,
             quiet: bool) -> None:
    """Pull service images (through the engine's POST /images/create)."""
    from dockyard.compose.distribution import pull

    loaded, client = _engine(ctx, services)
    _run(pull, client, loaded.project, list(services), (lambda o, s: None) if quiet else _say,
         ignore_failures=ignore_pull_failures)


@compose.command("push")
@click.argument("services", nargs=-1)
@click.option("--ignore-push-failures", is_flag=True, help="Push what it can and ignore images "
              "with push failures")
@click.option("-q", "--quiet", is_flag=True, help="Push without printing progress information")
@click.pass_context
def push_cmd(ctx: click.Context, services: tuple[str, ...], ignore_push_failures: bool,
             quiet: bool) -> None:
    """Push the images of services with a build section (POST /images/{name}/push)."""
    from dockyard.compose.distribution import push

    loaded, client = _engine(ctx, services)
    _run(push, client, loaded.project, list(services), (lambda o, s: None) if quiet else _say,
         ignore_failures=ignore_push_failures)


@compose.command("events")
@click.argument("services", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Output events as a stream of json objects")
@click.option("--since", default=None, help="Show all events created since timestamp")
@click.option("--until", default=None, help="Stream events until this timestamp")
@click.pass_context
def events_cmd(ctx: click.Context, services: tuple[str, ...], as_json: bool, since: str | None,
               until: str | None) -> None:
    """Receive real time events from containers (this project's only)."""
    from dockyard.compose.events import stream

    loaded, client = _engine(ctx, services)
    try:
        _run(stream, client, loaded.project.name, services, click.echo, as_json=as_json,
             since=since, until=until)
    except KeyboardInterrupt:
        pass


# --- watch (develop.watch) ----------------------------------------------------------------


@compose.command("watch")
@click.argument("services", nargs=-1)
@click.option("--no-up", is_flag=True, help="Do not build & start services before watching")
@click.option("--prune/--no-prune", default=True,
              help="Prune dangling images on rebuild (not yet: accepted for compatibility)")
@click.option("--quiet", is_flag=True, help="Hide build output")
@click.pass_context
def watch_cmd(ctx: click.Context, services: tuple[str, ...], no_up: bool, prune: bool,
              quiet: bool) -> None:
    """Watch build context for service and rebuild/refresh containers when files are updated."""
    from dockyard.compose.watch import WatchOptions, watch
    from dockyard.compose.watch_rules import watch_rules

    loaded, client = _engine(ctx, services)
    project = loaded.project
    # every rule checked before anything is built or started
    rules = _run(watch_rules, project, list(services))
    if not no_up:
        from dockyard.compose.build import build
        from dockyard.compose.planner import dependency_levels
        from dockyard.compose.up import UpOptions, up

        wanted = [n for lv in dependency_levels(project, list(services) or None) for n in lv]
        _run(build, client, project, wanted, (lambda t: None) if quiet else
             (lambda t: click.echo(t, err=True)), _say, missing_only=True)
        _run(up, client, project, UpOptions(services=list(services),
                                            known_services=loaded.disabled_services), _say)
    try:
        _run(watch, client, project, rules, _say, lambda t: click.echo(t, err=True),
             WatchOptions(quiet=quiet))
    except KeyboardInterrupt:
        pass


def _watch_rules(project: Any, services: Iterable[str], detached: bool) -> Any:
    """``up --watch``: the rules, checked before anything starts."""
    from dockyard.compose.watch_rules import watch_rules

    if detached:
        _fail("--watch is incompatible with --detach and --wait", 1)
    return _run(watch_rules, project, list(services))


def _watch_in_background(ctx: click.Context, project: Any, rules: Any) -> None:
    """``up --watch``: the watch runs beside the attached logs (a daemon thread, with
    its own client), and ends with the process."""
    import threading

    from dockyard.client import Client
    from dockyard.compose.errors import ComposeError
    from dockyard.compose.watch import WatchOptions, watch

    def run() -> None:
        try:
            with Client(ctx.obj.get("host")) as client:
                watch(client, project, rules, _say, lambda t: click.echo(t, err=True),
                      WatchOptions())
        except (ComposeError, OSError) as e:
            click.echo(f"watch: {e}", err=True)

    threading.Thread(target=run, name="compose-watch", daemon=True).start()
