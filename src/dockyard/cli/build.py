"""``dockyard build`` and ``dockyard builder prune|du``: docker's build commands, in-process.

Like ``dockyard image …``, these open the stores under ``--root`` (default
``/var/lib/dockyard`` or ``$DOCKYARD_ROOT``) and run the builder in this
process; the builder's own state (cache records, cache mounts, step
containers) lives in ``<root>/build``. The engine's ``POST /build`` moves
the same calls behind the daemon later.

Exit status 1 with ``ERROR: failed to solve: …`` on a failed build (the
exit code and last lines of a failed RUN included); 130 on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click

from dockyard.cli.image import DEFAULT_ROOT
from dockyard.units import human_size

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise click.BadParameter(f"invalid size {text!r}: expected a number with an optional unit (1GB, 512MiB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h|d)?", text.strip())
    if not m:
        raise click.BadParameter(f"invalid duration {text!r}: expected e.g. 24h, 30m, 10s")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]


def _kv(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        k, eq, val = v.partition("=")
        if not k:
            raise click.BadParameter(f"invalid {what} {v!r}: expected KEY=VALUE")
        if not eq:
            if k not in os.environ:
                continue  # docker: --build-arg X takes X from the environment, if set
            val = os.environ[k]
        out[k] = val
    return out


def _open(root: str | None) -> tuple[Any, Any]:
    from dockyard.build import Builder
    from dockyard.images import ImageService

    root = root or DEFAULT_ROOT
    svc = ImageService.open(root)
    return svc, Builder(svc, os.path.join(root, "build"))


@click.command("build", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag (name:tag)")
@click.option("-f", "--file", "file", default="", help="Name of the Dockerfile (default PATH/Dockerfile; - for stdin)")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image")
@click.option("--target", default="", help="Set the target build stage to build")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--no-cache-filter", "no_cache_filter", multiple=True, help="Do not cache specified stages")
@click.option("--cache-from", "cache_from", multiple=True, help="Images to consider as cache sources")
@click.option("--network", default="default", help="Networking mode for RUN: default, none, host")
@click.option("--platform", default="", help="Set the target platform for the build")
@click.option("--secret", "secrets", multiple=True, help="Secret to expose: id=x,src=file or id=x,env=VAR")
@click.option("--ssh", "ssh", multiple=True, help="SSH agent socket to expose: default or id[=socket]")
@click.option("-o", "--output", "outputs", multiple=True, help="Output destination (type=local,dest=DIR or type=tar,dest=FILE)")
@click.option("--progress", default="auto", type=click.Choice(["auto", "plain", "tty", "quiet"]))
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID on success")
@click.option("--iidfile", default="", help="Write the image ID to the file")
@click.option("--root", envvar="DOCKYARD_ROOT", default=None, metavar="DIR", help="Root of dockyard's state")
def build(path: str, tags: tuple[str, ...], file: str, build_args: tuple[str, ...], labels: tuple[str, ...],
          target: str, no_cache: bool, no_cache_filter: tuple[str, ...], cache_from: tuple[str, ...], network: str, platform: str,
          secrets: tuple[str, ...], ssh: tuple[str, ...], outputs: tuple[str, ...], progress: str, quiet: bool, iidfile: str,
          root: str | None) -> None:
    """Build an image from a Dockerfile."""
    from dockyard.build import BuildOptions
    from dockyard.build.errors import BuildError
    from dockyard.build.outputs import parse_output
    from dockyard.build.progress import PlainProgress, Progress, TtyProgress
    from dockyard.build.secrets import parse_secret
    from dockyard.build.ssh import parse_ssh

    stdin_dir = ""
    try:
        secret_values = dict(parse_secret(s) for s in secrets)
        ssh_agents = dict(parse_ssh(s) for s in ssh)
        outs = [parse_output(o) for o in outputs]
        text = sys.stdin.read() if file == "-" else None
        if path == "-":  # the context (a tar) or the Dockerfile on stdin
            import tempfile

            from dockyard.build.context import unpack_context

            stdin_dir = tempfile.mkdtemp(prefix="dockyard-context-")
            text = unpack_context(sys.stdin.buffer, stdin_dir)
            path = stdin_dir
        if quiet or progress == "quiet":
            prog: Progress = Progress()
        elif progress == "tty" or (progress == "auto" and sys.stderr.isatty()):
            prog = TtyProgress()
        else:
            prog = PlainProgress()
        opts = BuildOptions(
            context=path, dockerfile="" if file in ("", "-") else file, dockerfile_text=text, tags=list(tags),
            build_args=_kv(build_args, "--build-arg"), labels=_kv(labels, "--label"), target=target,
            no_cache=no_cache, no_cache_filter=[s.lower() for s in no_cache_filter], network=network,
            cache_from=list(cache_from),
            platform=platform, secrets=secret_values, ssh=ssh_agents, outputs=outs, iidfile=iidfile, progress=prog,
        )
    except BuildError as e:
        click.echo(f"ERROR: {e}", err=True)
        if stdin_dir:
            import shutil

            shutil.rmtree(stdin_dir, ignore_errors=True)
        sys.exit(1)
    svc, builder = _open(root)
    try:
        result = builder.build(opts)
    except BuildError as e:
        click.echo(f"ERROR: failed to solve: {e}", err=True)
        sys.exit(1)
    finally:
        builder.close()
        svc.close()
        if stdin_dir:
            import shutil

            shutil.rmtree(stdin_dir, ignore_errors=True)
    if quiet:
        click.echo(result.image_id)
    elif result.image_id:
        click.echo(f"writing image {result.image_id} done", err=True)
        for t in tags:
            click.echo(f"naming to {t} done", err=True)


@click.group("builder", context_settings={"help_option_names": ["-h", "--help"]})
def builder() -> None:
    """Manage builds."""


@builder.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused build cache, not just dangling ones")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (until=24h)")
@click.option("--keep-storage", default="", help="Amount of disk space to keep for cache")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--root", envvar="DOCKYARD_ROOT", default=None, metavar="DIR")
def prune(all_: bool, filters: tuple[str, ...], keep_storage: str, force: bool, root: str | None) -> None:
    """Remove build cache."""
    until = None
    for f in filters:
        k, _, v = f.partition("=")
        if k != "until":
            raise click.BadParameter(f"invalid filter {k!r}: only until= is supported", param_hint="--filter")
        until = parse_duration(v)
    keep = parse_size(keep_storage) if keep_storage else None
    if not force and sys.stdin.isatty():
        click.confirm("WARNING! This will remove all dangling build cache. Are you sure you want to continue?",
                      abort=True)
    svc, b = _open(root)
    try:
        dropped, freed = b.prune(all=until is None and keep is None, until=until, keep_storage=keep)
    finally:
        b.close()
        svc.close()
    if dropped:
        click.echo("Deleted build cache objects:")
        for r in dropped:
            click.echo(r.key.split(":", 1)[1][:25])
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(freed)}")


@builder.command("du")
@click.option("--root", envvar="DOCKYARD_ROOT", default=None, metavar="DIR")
def du(root: str | None) -> None:
    """Show build cache records and their usage."""
    svc, b = _open(root)
    try:
        records = b.du()
    finally:
        b.close()
        svc.close()
    click.echo(f"{'ID':<27}{'RECLAIMABLE':<13}{'SIZE':<10}{'USAGE':<7}LAST ACCESSED / DESCRIPTION")
    for r in records:
        click.echo(f"{r.key.split(':', 1)[1][:25]:<27}{'true':<13}{human_size(r.size):<10}{r.usage_count:<7}"
                   f"{r.description[:60]}")
    click.echo(f"Total:\t{human_size(sum(r.size for r in records))}")
