"""``dockyard image …`` (and ``images``, ``tag``, ``rmi``, ``save``, ``load``,
``import``, ``history``): docker's image commands, in-process for now.

Each command opens the image service on ``--root`` (default
``/var/lib/dockyard``, or ``$DOCKYARD_ROOT``), does one call and prints
what docker prints: the same tables (``-q``, ``--no-trunc``, a small
``--format`` Go-template subset: ``{{.Field}}``, ``{{json .}}``,
``{{index .X 0}}``, ``{{join .X ","}}``, ``{{range .X}}…{{end}}``, and a
``table`` prefix), the same lines (``Untagged: …``, ``Loaded image: …``)
and exit status 1 with ``Error response from daemon: …`` on failure. The
engine issue moves these calls behind the daemon's API.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from dockyard.units import human_duration, human_size

DEFAULT_ROOT = "/var/lib/dockyard"

_root_option = click.option(
    "--root", envvar="DOCKYARD_ROOT", default=None, metavar="DIR",
    help=f"Root of dockyard's state (default {DEFAULT_ROOT})",
)


@contextmanager
def _service(ctx: click.Context, root: str | None) -> Iterator[Any]:
    from dockyard.images import ImageService
    from dockyard.images.errors import ImageError

    root = root or (ctx.obj or {}).get("root") or DEFAULT_ROOT
    try:
        svc = ImageService.open(root)
    except OSError as e:
        _fail(f"cannot open the image store at {root}: {e}")
    try:
        yield svc
    except ImageError as e:
        _fail(str(e))
    finally:
        svc.close()


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error response from daemon: {message}", err=True)
    sys.exit(code)


# --- formatting: docker's units and Go templates -------------------------------------


def _go(value: Any) -> str:
    """A value printed as Go's templates print it."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    return str(value)


_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


def _lookup(obj: Any, path: str) -> Any:
    if path == ".":
        return obj
    cur = obj
    for part in path.lstrip(".").split("."):
        if isinstance(cur, dict):
            if part not in cur:
                raise click.UsageError(f"template: can't evaluate field {part}")
            cur = cur[part]
        else:
            cur = getattr(cur, part, None)
    return cur


def _arg(obj: Any, word: str) -> Any:
    if word.startswith('"') and word.endswith('"'):
        return json.loads(word)
    if word.lstrip("-").isdigit():
        return int(word)
    return _lookup(obj, word)


def _call(obj: Any, expr: str) -> Any:
    words = re.findall(r'"(?:\\.|[^"\\])*"|\S+', expr)
    if not words:
        return ""
    fn, args = words[0], [_arg(obj, w) for w in words[1:]]
    if fn == "json":
        return json.dumps(args[0] if args else obj, separators=(",", ":"))
    if fn == "index":
        cur = args[0]
        for key in args[1:]:
            cur = cur[key] if cur is not None else None
        return cur
    if fn == "join":
        return args[1].join(str(v) for v in (args[0] or []))
    if fn in ("upper", "lower", "title"):
        return getattr(str(args[0]), fn)()
    if fn == "println":
        return " ".join(_go(a) for a in args) + "\n"
    if fn.startswith("."):
        return _lookup(obj, fn)
    raise click.UsageError(f'template: function "{fn}" not defined')


def render(template: str, obj: Any) -> str:
    """Render the Go-template subset described in the module docstring."""
    out: list[str] = []
    pos = 0
    parts = list(_ACTION.finditer(template))
    i = 0
    while i < len(parts):
        m = parts[i]
        out.append(template[pos:m.start()])
        expr = m.group(1)
        if expr.startswith("range "):
            depth, j = 1, i + 1
            while j < len(parts) and depth:
                e = parts[j].group(1)
                depth += e.startswith(("range ", "if ")) - (e == "end")
                j += 1
            body = template[m.end():parts[j - 1].start()]
            for item in _call(obj, expr[6:]) or []:
                out.append(render(body, item))
            pos = parts[j - 1].end()
            i = j
            continue
        value = _call(obj, expr)
        out.append(value if isinstance(value, str) else _go(value))
        pos = m.end()
        i += 1
    out.append(template[pos:])
    return "".join(out).replace("\\t", "\t").replace("\\n", "\n")


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    """Docker's tabwriter: columns padded to the widest cell plus 3 spaces."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        cells = [cell.ljust(widths[c] + 3) if c < len(r) - 1 else cell for c, cell in enumerate(r)]
        click.echo("".join(cells).rstrip())


def _format_rows(fmt: str, items: Sequence[dict[str, Any]], headers: dict[str, str]) -> None:
    table = fmt.startswith("table")
    body = fmt[5:].lstrip() if table else fmt
    if table:
        header_tpl = _ACTION.sub(lambda m: headers.get(m.group(1).lstrip("."), m.group(1).lstrip(".").upper()), body)
        rows = [header_tpl.replace("\\t", "\t").split("\t")] + [render(body, it).split("\t") for it in items]
        width = max(len(r) for r in rows)
        _print_table([r + [""] * (width - len(r)) for r in rows])
    else:
        for it in items:
            click.echo(render(body, it))


# --- commands --------------------------------------------------------------------------


@click.group("image", context_settings={"help_option_names": ["-h", "--help"]})
@_root_option
@click.pass_context
def image(ctx: click.Context, root: str | None) -> None:
    """Manage images."""
    ctx.ensure_object(dict)
    ctx.obj["root"] = root


_LS_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
               "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
               "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}


@image.command("ls")
@click.argument("repository", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all images")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output (key=value)")
@click.option("--format", "fmt", default=None, help="Format output with a Go template")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@_root_option
@click.pass_context
def ls(ctx: click.Context, repository: str | None, all_: bool, digests: bool, filters: tuple[str, ...],
       fmt: str | None, no_trunc: bool, quiet: bool, root: str | None) -> None:
    """List images."""
    flt: dict[str, list[str]] = {}
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq:
            _fail(f"invalid filter {f!r}: expected key=value")
        flt.setdefault(key, []).append(value)
    if repository:
        flt.setdefault("reference", []).append(repository)
    with _service(ctx, root) as svc:
        images = svc.list(all=all_, filters=flt)
    now = time.time()
    items: list[dict[str, Any]] = []
    for img in images:
        iid = img["Id"] if no_trunc else img["Id"].split(":", 1)[1][:12]
        pairs = [(t.rpartition(":")[0], t.rpartition(":")[2]) for t in img["RepoTags"]] or [("<none>", "<none>")]
        digest_of = {d.partition("@")[0]: d.partition("@")[2] for d in img["RepoDigests"]}
        for repo, tag in pairs:
            items.append({
                "ID": iid, "Repository": repo, "Tag": tag,
                "Digest": digest_of.get(repo, "<none>"),
                "CreatedSince": human_duration(now - img["Created"]) + " ago",
                "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(img["Created"])),
                "Size": human_size(img["Size"]),
                "Containers": "N/A" if img["Containers"] < 0 else str(img["Containers"]),
                "SharedSize": "N/A", "UniqueSize": "N/A", "VirtualSize": human_size(img["Size"]),
            })
    if quiet:
        seen: list[str] = []
        for it in items:
            if it["ID"] not in seen:
                seen.append(it["ID"])
        for i in seen:
            click.echo(i)
        return
    if fmt and fmt != "table":
        _format_rows(fmt, items, _LS_HEADERS)
        return
    cols = ["Repository", "Tag"] + (["Digest"] if digests else []) + ["ID", "CreatedSince", "Size"]
    rows = [[_LS_HEADERS[c] for c in cols]] + [[it[c] for c in cols] for it in items]
    _print_table(rows)


@image.command("inspect")
@click.argument("images", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="Format output with a Go template")
@_root_option
@click.pass_context
def inspect(ctx: click.Context, images: tuple[str, ...], fmt: str | None, root: str | None) -> None:
    """Display detailed information on one or more images."""
    from dockyard.images.errors import ImageNotFoundError

    docs, missing = [], []
    with _service(ctx, root) as svc:
        for ref in images:
            try:
                docs.append(svc.inspect(ref))
            except ImageNotFoundError as e:
                missing.append(str(e))
    if fmt:
        for d in docs:
            click.echo(render(fmt, d))
    else:
        click.echo(json.dumps(docs, indent=4))
    if missing:
        for m in missing:
            click.echo(f"Error: {m}", err=True)
        sys.exit(1)


@image.command("tag")
@click.argument("source")
@click.argument("target")
@_root_option
@click.pass_context
def tag(ctx: click.Context, source: str, target: str, root: str | None) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    with _service(ctx, root) as svc:
        svc.tag(source, target)


@image.command("rm")
@click.argument("images", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
@_root_option
@click.pass_context
def rm(ctx: click.Context, images: tuple[str, ...], force: bool, no_prune: bool, root: str | None) -> None:
    """Remove one or more images."""
    from dockyard.images.errors import ImageError

    failed = False
    with _service(ctx, root) as svc:
        for ref in images:
            try:
                for item in svc.remove(ref, force=force, prune=not no_prune):
                    for k, v in item.items():
                        click.echo(f"{k}: {v}")
            except ImageError as e:
                click.echo(f"Error response from daemon: {e}", err=True)
                failed = True
    if failed:
        sys.exit(1)


@image.command("history")
@click.argument("ref", metavar="IMAGE")
@click.option("-H", "--human", type=bool, default=True, help="Print sizes and dates in human readable format")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--format", "fmt", default=None, help="Format output with a Go template")
@_root_option
@click.pass_context
def history(ctx: click.Context, ref: str, human: bool, no_trunc: bool, quiet: bool, fmt: str | None,
            root: str | None) -> None:
    """Show the history of an image."""
    with _service(ctx, root) as svc:
        items = svc.history(ref)
    now = time.time()
    rows = []
    for h in items:
        iid = h["Id"] if no_trunc or h["Id"] == "<missing>" else h["Id"].split(":", 1)[1][:12]
        created_by = h["CreatedBy"]
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append({
            "ID": iid,
            "CreatedSince": human_duration(now - h["Created"]) + " ago" if human else str(h["Created"]),
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(h["Created"])),
            "CreatedBy": created_by,
            "Size": human_size(h["Size"]) if human else str(h["Size"]),
            "Comment": h["Comment"],
        })
    if quiet:
        for r in rows:
            click.echo(r["ID"])
        return
    headers = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
               "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
    if fmt:
        _format_rows(fmt, rows, headers)
        return
    cols = ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"]
    _print_table([[headers[c] for c in cols]] + [[r[c] for c in cols] for r in rows])


@image.command("save")
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file, instead of STDOUT")
@click.option("--oci", is_flag=True, help="Write a plain OCI image layout (no manifest.json)")
@_root_option
@click.pass_context
def save(ctx: click.Context, images: tuple[str, ...], output: str | None, oci: bool, root: str | None) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    if output is None and sys.stdout.isatty():
        click.echo("cowardly refusing to save to a terminal. Use the -o flag or redirect", err=True)
        sys.exit(1)
    with _service(ctx, root) as svc:
        if output is None:
            svc.save(list(images), sys.stdout.buffer, format="oci" if oci else "docker")
            return
        tmp = f"{output}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                svc.save(list(images), f, format="oci" if oci else "docker")
            os.replace(tmp, output)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


@image.command("load")
@click.option("-i", "--input", "input_", type=click.Path(exists=True), help="Read from tar archive file (or OCI layout directory), instead of STDIN")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@_root_option
@click.pass_context
def load(ctx: click.Context, input_: str | None, quiet: bool, root: str | None) -> None:
    """Load an image from a tar archive or STDIN."""
    if input_ is None and sys.stdin.isatty():
        _fail("requested load from stdin, but stdin is empty")
    with _service(ctx, root) as svc:
        lines = svc.load(input_ if input_ is not None else sys.stdin.buffer)
    if not quiet:
        for line in lines:
            click.echo(line)


@image.command("import")
@click.argument("source", metavar="file|-")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Set commit message for imported image")
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable")
@_root_option
@click.pass_context
def import_(ctx: click.Context, source: str, repository: str | None, changes: tuple[str, ...],
            message: str, platform: str | None, root: str | None) -> None:
    """Import the contents from a tarball (or a directory) to create a filesystem image."""
    if source != "-" and not os.path.exists(source):
        _fail(f"open {source}: no such file or directory")
    with _service(ctx, root) as svc:
        img = svc.import_image(sys.stdin.buffer if source == "-" else source, repository,
                               changes=changes, message=message, platform=platform,
                               source_name="-" if source == "-" else source)
    click.echo(img.id)


@image.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images, not just dangling ones")
@click.option("--filter", "filters", multiple=True, help='Provide filter values (e.g. "until=<timestamp>")')
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@_root_option
@click.pass_context
def prune(ctx: click.Context, all_: bool, filters: tuple[str, ...], force: bool, root: str | None) -> None:
    """Remove unused images."""
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if all_ else "WARNING! This will remove all dangling images.")
    if not force and not click.confirm(f"{warning}\nAre you sure you want to continue?", default=False):
        return
    flt: dict[str, list[str]] = {}
    for f in filters:
        key, _, value = f.partition("=")
        flt.setdefault(key, []).append(value)
    with _service(ctx, root) as svc:
        report = svc.prune(all=all_, filters=flt)
    deleted = report["ImagesDeleted"] or []
    if deleted:
        click.echo("Deleted Images:")
        for item in deleted:
            for k, v in item.items():
                click.echo(f"{k.lower()}: {v}")
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(report['SpaceReclaimed'])}")


# Top-level aliases (docker images, docker rmi, …): the same commands under their old names.
def _alias(cmd: click.Command, name: str) -> click.Command:
    alias = click.Command(name, params=cmd.params, callback=cmd.callback, help=cmd.help,
                          context_settings={"help_option_names": ["-h", "--help"]})
    return alias


image.add_command(ls, "list")
images = _alias(ls, "images")
rmi = _alias(rm, "rmi")
tag_alias = _alias(tag, "tag")
save_alias = _alias(save, "save")
load_alias = _alias(load, "load")
import_alias = _alias(import_, "import")
history_alias = _alias(history, "history")
