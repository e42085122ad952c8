"""``dockyard image …`` (and ``images``, ``tag``, ``rmi``, ``save``, ``load``,
``import``, ``history``, ``commit``): docker's image commands, through the daemon.

Each command is one or a few Engine API calls (``dockyard.client``, over
``-H``/``--host``, ``$DOCKER_HOST`` or the default socket), printed as
docker prints them: the same tables (``-q``, ``-a``, ``--digests``,
``--no-trunc``, a Go-template subset for ``--format``: ``{{.Field}}``,
``{{json .}}``, ``{{index .X 0}}``, ``{{join .X ","}}``,
``{{range .X}}…{{end}}``, a ``table`` prefix), the same lines
(``Untagged: …``, ``Loaded image: …``), ``Error response from daemon: …``
and exit status 1 on failure. ``load``, ``save`` and ``import`` show a
byte count on stderr when it is a terminal.

``--root DIR`` (explicit only) works on the image store in this process
instead, with no daemon: the README's offline examples and
``bench/images.py`` (which fills a daemon's root before starting it) use
it. ``image_backend.py`` holds both paths.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from dockyard.units import human_duration, human_size

from .image_backend import Failure, Images, open_images

DEFAULT_ROOT = "/var/lib/dockyard"  # the daemon's; also ``dockyard build``'s default store

_root_option = click.option(
    "--root", default=None, metavar="DIR",
    help="Work on the image store at DIR in-process, without the daemon",
)
_host_option = click.option("-H", "--host", default=None, metavar="unix://PATH",
                            help="Daemon socket (default $DOCKER_HOST or "
                                 "unix:///run/dockyard/dockyard.sock)")
# ``history`` has docker's ``-H/--human``: the host is ``--host`` there.
_host_long_option = click.option("--host", default=None, metavar="unix://PATH",
                                 help="Daemon socket (default $DOCKER_HOST or "
                                      "unix:///run/dockyard/dockyard.sock)")


def _fail(message: str, code: int = 1, daemon: bool = True) -> NoReturn:
    click.echo(("Error response from daemon: " if daemon else "") + message, err=True)
    sys.exit(code)


@contextmanager
def _images(ctx: click.Context, host: str | None, root: str | None) -> Iterator[Images]:
    """The daemon (or, with ``--root``, the store); a ``Failure`` ends the command."""
    root = root or (ctx.obj or {}).get("root")
    host = host or (ctx.obj or {}).get("host")
    try:
        with open_images(host, root) as imgs:
            yield imgs
    except Failure as e:
        _fail(e.message, daemon=e.daemon)


class Progress:
    """Bytes moved so far, redrawn in place on stderr, only when it is a terminal
    (docker's progress bar when the total is known)."""

    def __init__(self, action: str, total: int | None = None) -> None:
        self.action, self.total, self.n = action, total, 0
        self.on = sys.stderr.isatty()
        self._last = 0.0

    def add(self, n: int) -> None:
        self.n += n
        now = time.monotonic()
        if self.on and now - self._last >= 0.1:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            filled = min(50, self.n * 50 // self.total)
            bar = "=" * filled + (">" if filled < 50 else "") if filled else ">"
            line = (f"{self.action} [{bar.ljust(50)}]  "
                    f"{human_size(self.n)}/{human_size(self.total)}")
        else:
            line = f"{self.action}  {human_size(self.n)}"
        sys.stderr.write("\r" + line)
        sys.stderr.flush()

    def done(self) -> None:
        if self.on and self.n:
            if self.total:
                self.total = max(self.total, self.n)
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()


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


class Row(dict[str, Any]):
    """A row of a listing: docker builds these as Go maps, so ``{{json .}}``
    prints their keys sorted."""


def _go_json(value: Any) -> str:
    """``json.Marshal``: compact, maps sorted, ``<>&`` escaped as Go does."""
    out = json.dumps(value, separators=(",", ":"), sort_keys=isinstance(value, Row),
                     ensure_ascii=False)
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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
        return _go_json(args[0] if args else obj)
    if fn == "index":
        cur = args[0]
        for key in args[1:]:
            try:
                cur = cur[key] if cur is not None else None
            except (IndexError, KeyError, TypeError):
                raise click.ClickException(f"template: error calling index: index out of "
                                           f"range: {key}") from None
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
    """Docker's tabwriter (minwidth 10, padding 3): each column as wide as its
    widest cell plus 3 spaces, and never narrower than 10."""
    widths = [max(10, max(len(r[c]) for r in rows) + 3) for c in range(len(rows[0]))]
    for r in rows:
        cells = [cell.ljust(widths[c]) if c < len(r) - 1 else cell for c, cell in enumerate(r)]
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


class DockerCommand(click.Command):
    """docker's exit codes for bad command lines: 1 for a missing argument,
    125 for an unknown flag or a bad flag value (click's are 2)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            e.show()
            ctx.exit(1 if isinstance(e, click.MissingParameter) else 125)


@click.group("image", context_settings={"help_option_names": ["-h", "--help"]})
@_host_option
@_root_option
@click.pass_context
def image(ctx: click.Context, host: str | None, root: str | None) -> None:
    """Manage images."""
    ctx.ensure_object(dict)
    ctx.obj["root"] = root
    ctx.obj["host"] = host


def _filters(values: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in values:
        key, eq, value = f.partition("=")
        if not eq or not key:
            _fail(f"invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter "
                  "(expected name=value)", code=125, daemon=False)
        out.setdefault(key, []).append(value)
    return out


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id.split(":", 1)[-1][:12]


_LS_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
               "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
               "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
               "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE"}


def _ls_rows(images: list[dict[str, Any]], no_trunc: bool) -> list[Row]:
    """One row per tag (docker's ``<none>`` for what has none)."""
    now = time.time()
    rows = []
    for img in images:
        tags = img.get("RepoTags") or []
        digests = img.get("RepoDigests") or []
        digest_of = {d.partition("@")[0]: d.partition("@")[2] for d in digests}
        pairs = [(t.rpartition(":")[0], t.rpartition(":")[2]) for t in tags]
        if not pairs:  # untagged: by digest if it has one
            pairs = [(d.partition("@")[0], "<none>") for d in digests][:1] or [("<none>", "<none>")]
        created = img.get("Created", 0)
        containers = img.get("Containers", -1)
        for repo, tag in pairs:
            rows.append(Row(
                ID=_short(img["Id"], no_trunc), Repository=repo, Tag=tag,
                Digest=digest_of.get(repo, "<none>"),
                CreatedSince=human_duration(now - created) + " ago",
                CreatedAt=time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(created)),
                Size=human_size(img.get("Size", 0)),
                Containers="N/A" if containers is None or containers < 0 else str(containers),
                SharedSize="N/A", UniqueSize="N/A",
                VirtualSize=human_size(img.get("VirtualSize", img.get("Size", 0)))))
    return rows


@image.command("ls", cls=DockerCommand)
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-a", "--all", "all_", is_flag=True, help="Show all images (default hides "
              "intermediate images)")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on "
              "conditions provided (dangling=true|false, reference=…, label=…, before, since)")
@click.option("--format", "fmt", default=None, help="Format output using a Go template")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@_host_option
@_root_option
@click.pass_context
def ls(ctx: click.Context, repository: str | None, all_: bool, digests: bool,
       filters: tuple[str, ...], fmt: str | None, no_trunc: bool, quiet: bool,
       host: str | None, root: str | None) -> None:
    """List images."""
    flt = _filters(filters)
    if repository:
        flt.setdefault("reference", []).append(repository)
    with _images(ctx, host, root) as imgs:
        found = imgs.ls(all=all_, filters=flt, digests=digests)
    rows = _ls_rows(found, no_trunc)
    if quiet:
        for r in rows:  # once per tag, as docker prints them
            click.echo(r["ID"])
        return
    if fmt and fmt != "table":
        _format_rows(fmt, rows, _LS_HEADERS)
        return
    cols = ["Repository", "Tag"] + (["Digest"] if digests else []) + ["ID", "CreatedSince",
                                                                       "Size"]
    _print_table([[_LS_HEADERS[c] for c in cols]] + [[r[c] for c in cols] for r in rows])


@image.command("inspect", cls=DockerCommand)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-f", "--format", "fmt", default=None, help="Format output using a Go template")
@_host_option
@_root_option
@click.pass_context
def inspect(ctx: click.Context, images: tuple[str, ...], fmt: str | None, host: str | None,
            root: str | None) -> None:
    """Display detailed information on one or more images."""
    docs, missing = [], []
    with _images(ctx, host, root) as imgs:
        for ref in images:
            try:
                docs.append(imgs.inspect(ref))
            except Failure as e:
                if not e.daemon:
                    raise
                missing.append(e.message)
    if fmt:
        for d in docs:
            click.echo(render(fmt, d))
    else:
        click.echo(json.dumps(docs, indent=4))
    for m in missing:
        click.echo(f"Error response from daemon: {m}", err=True)
    if missing:
        sys.exit(1)


def split_tag(target: str) -> tuple[str, str]:
    """``repo[:tag]`` → (repo, tag); the tag is after the last ``:`` past the last ``/``."""
    name, _, last = target.rpartition("/")
    if ":" in last:
        last, _, tag = last.partition(":")
        return (f"{name}/{last}" if name else last), tag
    return target, ""


@image.command("tag", cls=DockerCommand)
@click.argument("source", metavar="SOURCE_IMAGE[:TAG]")
@click.argument("target", metavar="TARGET_IMAGE[:TAG]")
@_host_option
@_root_option
@click.pass_context
def tag(ctx: click.Context, source: str, target: str, host: str | None,
        root: str | None) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    if "@" in target:
        _fail("refusing to create a tag with a digest reference", daemon=False)
    repo, tag_ = split_tag(target)
    with _images(ctx, host, root) as imgs:
        imgs.tag(source, repo, tag_)


@image.command("rm", cls=DockerCommand)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
@_host_option
@_root_option
@click.pass_context
def rm(ctx: click.Context, images: tuple[str, ...], force: bool, no_prune: bool,
       host: str | None, root: str | None) -> None:
    """Remove one or more images."""
    failed = False
    with _images(ctx, host, root) as imgs:
        for ref in images:
            try:
                for item in imgs.remove(ref, force=force, noprune=no_prune):
                    for k, v in item.items():
                        click.echo(f"{k}: {v}")
            except Failure as e:
                if not e.daemon:
                    raise
                click.echo(f"Error response from daemon: {e.message}", err=True)
                failed = True
    if failed:
        sys.exit(1)


def go_bool(ctx: click.Context, param: click.Parameter, value: Any) -> bool:
    """pflag's booleans: ``-H=false`` and ``--human=false`` as well as ``-Hfalse``."""
    if isinstance(value, bool):
        return value
    v = str(value).removeprefix("=").lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise click.BadParameter(f"invalid argument {value!r}: strconv.ParseBool: parsing: "
                             "invalid syntax", ctx, param)


_HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


@image.command("history", cls=DockerCommand)
@click.argument("ref", metavar="IMAGE")
@click.option("-H", "--human", default="true", callback=go_bool, metavar="BOOL",
              show_default=True,
              help="Print sizes and dates in human readable format")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--format", "fmt", default=None, help="Format output using a Go template")
@_host_long_option
@_root_option
@click.pass_context
def history(ctx: click.Context, ref: str, human: bool, no_trunc: bool, quiet: bool,
            fmt: str | None, host: str | None, root: str | None) -> None:
    """Show the history of an image."""
    with _images(ctx, host, root) as imgs:
        items = imgs.history(ref)
    now = time.time()
    rows = []
    for h in items:
        iid = h["Id"] if no_trunc or h["Id"] == "<missing>" else _short(h["Id"], False)
        created_by = h.get("CreatedBy", "")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        created = h.get("Created", 0)
        rows.append(Row(
            ID=iid, CreatedSince=human_duration(now - created) + " ago",
            CreatedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
            CreatedBy=created_by,
            Size=human_size(h.get("Size", 0)) if human else str(h.get("Size", 0)),
            Comment=h.get("Comment", "")))
    if quiet:
        for r in rows:
            click.echo(r["ID"])
        return
    if fmt:
        _format_rows(fmt, rows, _HISTORY_HEADERS)
        return
    cols = ["ID", "CreatedSince" if human else "CreatedAt", "CreatedBy", "Size", "Comment"]
    _print_table([[_HISTORY_HEADERS[c] for c in cols]] + [[r[c] for c in cols] for r in rows])


@image.command("save", cls=DockerCommand)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to a file, instead of STDOUT")
@_host_option
@_root_option
@click.pass_context
def save(ctx: click.Context, images: tuple[str, ...], output: str | None, host: str | None,
         root: str | None) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    if output is None and sys.stdout.isatty():
        _fail("cowardly refusing to save to a terminal. Use the -o flag or redirect",
              daemon=False)
    with _images(ctx, host, root) as imgs:
        total = 0
        for ref in images:  # all there, or nothing written (not half a tar)
            total += int(imgs.inspect(ref).get("Size") or 0)
        progress = Progress("Saving", total or None)
        if output is None:
            imgs.save(list(images), sys.stdout.buffer, progress)
            sys.stdout.buffer.flush()
        else:
            tmp = os.path.join(os.path.dirname(os.path.abspath(output)),
                               f".{os.path.basename(output)}.tmp-{os.getpid()}")
            try:
                with open(tmp, "wb") as f:
                    imgs.save(list(images), f, progress)
                os.replace(tmp, output)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        progress.done()


@image.command("load", cls=DockerCommand)
@click.option("-i", "--input", "input_", default=None, metavar="FILE",
              help="Read from tar archive file (or an OCI layout directory), instead of STDIN")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load progress")
@_host_option
@_root_option
@click.pass_context
def load(ctx: click.Context, input_: str | None, quiet: bool, host: str | None,
         root: str | None) -> None:
    """Load an image from a tar archive or STDIN."""
    total = None
    if input_ is not None:
        try:
            st = os.stat(input_)
        except OSError as e:
            _fail(f"open {input_}: {(e.strerror or str(e)).lower()}", daemon=False)
        total = st.st_size if not os.path.isdir(input_) else None
    elif sys.stdin.isatty():
        _fail("requested load from stdin, but stdin is empty", daemon=False)
    progress = Progress("Loading", total)
    with _images(ctx, host, root) as imgs:
        lines = imgs.load(input_, quiet=quiet, progress=None if quiet else progress)
    progress.done()
    for line in lines:  # docker's -q hides the progress, not these
        click.echo(line)


@image.command("import", cls=DockerCommand)
@click.argument("source", metavar="file|-")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-c", "--change", "changes", multiple=True,
              help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Set commit message for imported image")
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable")
@_host_option
@_root_option
@click.pass_context
def import_(ctx: click.Context, source: str, repository: str | None, changes: tuple[str, ...],
            message: str, platform: str | None, host: str | None, root: str | None) -> None:
    """Import the contents from a tarball (or a directory) to create a filesystem image."""
    if re.match(r"^https?://", source):
        _fail(f"importing from a URL ({source}) is not supported: download it and give the "
              "file, or - for STDIN", daemon=False)
    total = None
    if source != "-":
        try:
            st = os.stat(source)
        except OSError as e:
            _fail(f"open {source}: {(e.strerror or str(e)).lower()}", daemon=False)
        total = None if os.path.isdir(source) else st.st_size
    if repository and "@" in repository:
        _fail("refusing to create a tag with a digest reference", daemon=False)
    repo, tag_ = split_tag(repository) if repository else ("", "")
    progress = Progress("Importing", total)
    with _images(ctx, host, root) as imgs:
        iid = imgs.import_(source, repo=repo, tag=tag_, changes=list(changes), message=message,
                           platform=platform, progress=progress)
    progress.done()
    click.echo(iid)


@image.command("prune", cls=DockerCommand)
@click.option("-a", "--all", "all_", is_flag=True,
              help="Remove all unused images, not just dangling ones")
@click.option("--filter", "filters", multiple=True,
              help='Provide filter values (e.g. "until=<timestamp>", "label=k=v")')
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@_host_option
@_root_option
@click.pass_context
def prune(ctx: click.Context, all_: bool, filters: tuple[str, ...], force: bool,
          host: str | None, root: str | None) -> None:
    """Remove unused images."""
    warning = ("WARNING! This will remove all images without at least one container "
               "associated to them." if all_ else "WARNING! This will remove all dangling images.")
    flt = _filters(filters)
    if not force and not click.confirm(f"{warning}\nAre you sure you want to continue?",
                                       default=False):
        return
    if all_:
        flt["dangling"] = ["false"]
    with _images(ctx, host, root) as imgs:
        report = imgs.prune(flt)
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        click.echo("Deleted Images:")
        for item in deleted:
            for k, v in item.items():
                click.echo(f"{k.lower()}: {v}")
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0)}")


@click.command("commit", cls=DockerCommand,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-a", "--author", default="",
              help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
@click.option("-c", "--change", "changes", multiple=True,
              help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Commit message")
@click.option("-p", "--pause/--no-pause", default=True, show_default=True,
              help="Pause container during commit")
@_host_option
def commit(container: str, repository: str | None, author: str, changes: tuple[str, ...],
           message: str, pause: bool, host: str | None) -> None:
    """Create a new image from a container's changes."""
    if repository and "@" in repository:
        _fail("refusing to create a tag with a digest reference", daemon=False)
    repo, tag_ = split_tag(repository) if repository else ("", "")
    try:
        with open_images(host, None) as imgs:
            click.echo(imgs.commit(container, repo=repo, tag=tag_, author=author,
                                   comment=message, changes=list(changes), pause=pause))
    except Failure as e:
        _fail(e.message, daemon=e.daemon)


# Top-level aliases (docker images, docker rmi, …): the same commands under their old names.
def _alias(cmd: click.Command, name: str) -> click.Command:
    return DockerCommand(name, params=cmd.params, callback=cmd.callback, help=cmd.help,
                         context_settings={"help_option_names": ["-h", "--help"]})


image.add_command(ls, "list")
images = _alias(ls, "images")
rmi = _alias(rm, "rmi")
tag_alias = _alias(tag, "tag")
save_alias = _alias(save, "save")
load_alias = _alias(load, "load")
import_alias = _alias(import_, "import")
history_alias = _alias(history, "history")
