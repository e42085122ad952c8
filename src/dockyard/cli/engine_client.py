"""What the container commands share: the client, errors → exit codes, output.

- ``host_option`` / ``connect``: ``-H``, ``$DOCKER_HOST``, the default socket.
- ``fail``: docker's ``Error response from daemon: …`` on stderr and the
  exit code (1 for most commands, 125 for ``run``; 126/127 when the
  container's command cannot be invoked / is not found).
- ``render``: a Go-template subset for ``--format`` (``{{.Field}}``,
  ``{{.A.B}}``, ``{{json .}}``, ``{{json .X}}``, ``table`` and ``\\t``).
- ``print_table``: docker's column layout (three spaces between columns).
- ``stream``: copy a hijacked attach/exec stream to the terminal (raw
  mode and resize for ``-t``), stdin the other way; says whether it ended
  on the detach keys.
- ``sig_proxy_option`` / ``proxy_signals``: ``--sig-proxy`` (``PflagCommand``
  takes ``--sig-proxy=false``), our signals passed on to the container.
- ``daemon_errors``: no daemon → its message and an exit code.
- ``detach_keys_option`` / ``resolve_detach_keys``: ``--detach-keys``, else the
  docker CLI config file's ``detachKeys``, checked before anything is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import click

from dockyard.client import APIError, Client, ConnectionFailed, Hijacked
from dockyard.client.detach import DetachMatcher, configured_detach_keys, parse_detach_keys
from dockyard.client.errors import InvalidDetachKeys
from dockyard.units import human_duration

host_option = click.option("-H", "--host", envvar=None, default=None, metavar="unix://PATH",
                           help="Daemon socket (default $DOCKER_HOST or "
                                "unix:///run/dockyard/dockyard.sock)")


detach_keys_option = click.option("--detach-keys", default=None,
                                  help="Override the key sequence for detaching a container")


def resolve_detach_keys(given: str | None, code: int, *, prefix: str = "") -> str:
    """``--detach-keys``, else the config file's ``detachKeys``, else "" (the engine's
    ctrl-p,ctrl-q); a value that does not parse fails here, before anything is done."""
    try:
        spec = given or configured_detach_keys()
        if spec:
            parse_detach_keys(spec)
    except InvalidDetachKeys as e:
        fail(str(e), code, prefix=prefix)
    return spec


def connect(host: str | None) -> Client:
    try:
        return Client(host)
    except ConnectionFailed as e:
        fail(str(e), 1, prefix="")


def fail(message: str, code: int = 1, *, prefix: str = "Error response from daemon: ") -> NoReturn:
    click.echo(f"{prefix}{message}", err=True)
    sys.exit(code)


def error_text(e: Exception) -> str:
    if isinstance(e, APIError):
        return "Error response from daemon: " + e.message
    return str(e)


def run_exit_code(message: str) -> int:
    """docker run's code for a start failure: 127 not found, 126 cannot invoke, else 125."""
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return 127
    if "permission denied" in low or "cannot execute" in low:
        return 126
    return 125


# --- formatting -------------------------------------------------------------------

_ACTION = re.compile(r"{{\s*(.*?)\s*}}")


def _lookup(obj: Any, path: str) -> Any:
    if path in (".", ""):
        return obj
    for part in path.lstrip(".").split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        else:
            obj = getattr(obj, part, None)
    return obj


def _go(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    return str(value)


def render(template: str, obj: Any) -> str:
    """One line of a Go template, the subset docker users reach for."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")

    def action(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("json "):
            return json.dumps(_lookup(obj, expr[5:].strip()), separators=(",", ":"))
        if expr.startswith("."):
            return _go(_lookup(obj, expr))
        raise click.UsageError(f"template: unsupported action {{{{{expr}}}}}")

    return _ACTION.sub(action, template)


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=False)] + [r[-1]]
        click.echo("   ".join(cells).rstrip())


def format_rows(fmt: str, items: Sequence[Any], headers: dict[str, str]) -> None:
    """``--format``: plain lines, or a table with headers for ``table …``."""
    if fmt.startswith("table"):
        tmpl = fmt[len("table"):].strip() or "\t".join(f"{{{{.{k}}}}}" for k in headers)
        head = _ACTION.sub(lambda m: headers.get(m.group(1).lstrip("."), m.group(1).lstrip(".").upper()),
                           tmpl.replace("\\t", "\t"))
        rows = [head.split("\t")] + [render(tmpl, it).split("\t") for it in items]
        print_table(rows)
        return
    for it in items:
        click.echo(render(fmt, it))


def since(ts: float) -> str:
    return human_duration(time.time() - ts) + " ago"


# --- streams -------------------------------------------------------------------------


def stream(h: Hijacked, *, tty: bool, stdin: bool, resize: Callable[[int, int], None] | None,
           on_stdin_eof: Callable[[], None] | None = None) -> bool:
    """Copy the container's output here and (with ``stdin``) our stdin there, until the
    engine ends the stream. True when it ended on the detach keys (``h.detach_keys``, a
    tty session only, as docker's): the container runs on, nobody should wait for it."""
    restore = None
    if tty and sys.stdin.isatty():
        import termios
        import tty as ttymod

        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        ttymod.setraw(fd)
        restore = (fd, old)

        def winch(*_: object) -> None:
            if resize is not None:
                try:
                    size = os.get_terminal_size(fd)
                    resize(size.lines, size.columns)
                except OSError:
                    pass

        signal.signal(signal.SIGWINCH, winch)
        winch()
    detached = threading.Event()
    if stdin:
        matcher = DetachMatcher(h.detach_keys if tty else b"")

        def pump() -> None:
            fd = sys.stdin.fileno()
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    h.close_write()
                    if on_stdin_eof is not None:
                        on_stdin_eof()
                    return
                end = matcher.feed(data)
                if end >= 0:
                    # said before the keys go: the engine ends the stream on them, and
                    # the reader must know why by the time it sees the end
                    detached.set()
                    _end_stream_after(h, DETACH_GRACE)
                try:
                    # the keys go too: the engine detaches on them and ends the stream
                    # (closing ours instead would close a StdinOnce container's stdin)
                    h.write(data if end < 0 else data[:end])
                except Exception:
                    return
                if end >= 0:
                    return

        threading.Thread(target=pump, daemon=True).start()
    out, err = sys.stdout.buffer, sys.stderr.buffer
    try:
        for s, data in h.frames(tty):
            target = err if s == 2 else out
            target.write(data)
            target.flush()
    finally:
        if restore is not None:
            import termios

            termios.tcsetattr(restore[0], termios.TCSADRAIN, restore[1])
        h.close()
    return detached.is_set()


# What --sig-proxy passes on (docker passes all it can catch; these are the
# ones a terminal or a process manager sends).
PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
           signal.SIGUSR2)

# a pflag bool as docker's: --sig-proxy, --sig-proxy=false (see PflagCommand)
sig_proxy_option = click.option(
    "--sig-proxy/--no-sig-proxy", default=True,
    help="Proxy received signals to the process (default; --sig-proxy=false: not)")




@contextlib.contextmanager
def daemon_errors(code: int, *, prefix: str = "") -> Iterator[None]:
    """No daemon there (or it went away): its message and ``code``, not a traceback."""
    try:
        yield
    except ConnectionFailed as e:
        fail(str(e), code, prefix=prefix)


def proxy_signals(client: Client, ref: str) -> None:
    """From now on, the signals we get go to the container (``--sig-proxy``), each on a
    connection of its own: the client's is busy streaming."""
    def forward(signum: int, _frame: object) -> None:
        def kill() -> None:
            try:
                with client.another() as c:
                    c.kill(ref, signal.Signals(signum).name)
            except (APIError, ConnectionFailed, OSError):
                pass  # gone already: its exit ends the stream anyway

        threading.Thread(target=kill, daemon=True).start()

    for s in PROXIED:
        signal.signal(s, forward)


def resize_quietly(client: Client, ref: str, rows: int, cols: int) -> None:
    """The container's tty to our terminal's size; nothing when it is not running (yet)."""
    try:
        client.resize(ref, rows, cols)
    except APIError:
        pass


def resize_exec_quietly(client: Client, xid: str, rows: int, cols: int) -> None:
    """An exec's tty to our terminal's size; nothing until it runs (its first size
    went with the start)."""
    try:
        client.exec_resize(xid, rows, cols)
    except APIError:
        pass


# How long the engine has to end a session after the detach keys went to it
# before we end it ourselves (an engine that does not know them, say).
DETACH_GRACE = 5.0


def _end_stream_after(h: Hijacked, seconds: float) -> None:
    def end() -> None:
        try:
            h.sock.shutdown(socket.SHUT_RDWR)  # unblocks the read of frames()
        except OSError:
            pass  # already closed: the engine ended it

    t = threading.Timer(seconds, end)
    t.daemon = True
    t.start()


def parse_size(value: str, what: str) -> int:
    """docker's RAMInBytes: ``512m``, ``1g``, ``1048576``."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", value.strip().lower())
    if not m:
        raise click.BadParameter(f"invalid size: {value!r}", param_hint=what)
    mult = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}[m.group(2)]
    return int(float(m.group(1)) * mult)
