"""``dockyard-runtime``: runc's command line over the runtime.

Start-up cost matters (a container lifecycle is three invocations), so this
module imports almost nothing: global flags are parsed by hand, then only
the verb's own module is imported and given the rest of the arguments.
Each verb module has a ``cli(argv, g) -> int`` next to the function the
Python API calls (runc keeps one file per verb too).
"""

from __future__ import annotations

import os
import sys

from .container import DEFAULT_ROOT

VERBS: dict[str, str] = {
    "create": "create",
    "delete": "delete",
    "events": "events",
    "exec": "exec",
    "kill": "kill",
    "list": "list",
    "pause": "pause",
    "ps": "ps",
    "resume": "pause",
    "run": "run",
    "spec": "spec",
    "start": "start",
    "state": "state",
    "update": "update",
}

USAGE = """usage: dockyard-runtime [global options] command [command options] [arguments...]

An OCI runtime (runc's command line) written in Python.

Commands:
  create   create a container          start    start a created container
  run      create and start            state    output the state of a container
  kill     send a signal to the init   delete   delete a container
  exec     run a process in it         list     list containers
  ps       processes in a container    pause    freeze all processes
  resume   thaw them                   update   change resource limits
  events   stats of a container        spec     write a default config.json

Global options:
  --root DIR          state directory (default: /run/dockyard/runtime)
  --log FILE          also write errors and warnings to FILE
  --log-format FMT    text or json
  --debug             more output
"""


class Globals:
    def __init__(self) -> None:
        self.root = DEFAULT_ROOT
        self.log = ""
        self.log_format = "text"
        self.debug = False


def error(g: Globals, message: str) -> None:
    """One line on stderr (runc's logrus format) and in --log if given."""
    import time

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if sys.stderr.isatty():
        sys.stderr.write(f"ERRO[0000] {message}\n")
    else:
        quoted = message.replace("\\", "\\\\").replace('"', '\\"')
        sys.stderr.write(f'time="{now}" level=error msg="{quoted}"\n')
    if g.log:
        try:
            with open(g.log, "a") as f:
                if g.log_format == "json":
                    import json

                    f.write(json.dumps({"level": "error", "msg": message, "time": now}) + "\n")
                else:
                    f.write(f'time="{now}" level=error msg="{message}"\n')
        except OSError:
            pass


def _globals(argv: list[str], g: Globals) -> list[str]:
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        takes = name in ("--root", "--log", "--log-format", "--criu", "--rootless")
        if takes and not eq:
            i += 1
            if i >= len(argv):
                raise SystemExit(f"flag needs an argument: {name}")
            value = argv[i]
        if name == "--root":
            g.root = os.path.abspath(value)
        elif name == "--log":
            g.log = value
        elif name == "--log-format":
            if value not in ("text", "json"):
                raise SystemExit(f"unknown log-format {value!r}: expected text or json")
            g.log_format = value
        elif name == "--debug":
            g.debug = True
        elif name in ("-h", "--help"):
            sys.stdout.write(USAGE)
            raise SystemExit(0)
        elif name in ("-v", "--version"):
            sys.stdout.write("dockyard-runtime version 0.1.0\nspec: 1.2.0\n")
            raise SystemExit(0)
        elif name == "--systemd-cgroup" or takes:
            pass  # accepted for compatibility; no effect here
        else:
            raise SystemExit(f"flag provided but not defined: {name}")
        i += 1
    return argv[i:]


def main(argv: list[str] | None = None) -> None:
    g = Globals()
    rest = _globals(list(sys.argv[1:] if argv is None else argv), g)
    if not rest:
        sys.stderr.write(USAGE)
        raise SystemExit(1)
    verb, args = rest[0], rest[1:]
    module = VERBS.get(verb)
    if module is None:
        error(g, f"No help topic for {verb!r}")
        raise SystemExit(1)
    import importlib

    from .errors import RuntimeFailure

    mod = importlib.import_module(f"dockyard.runtime.{module}")
    try:
        code: int = mod.cli(verb, args, g)
    except RuntimeFailure as e:
        error(g, str(e))
        code = e.exit_code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # `dockyard-runtime state c1 | head`: the reader left; not our error.
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if argv is None:
        # The console script: leave without the interpreter's teardown (module
        # and object clean-up, ~3 ms of CPU, some 10 % of a light verb). All we
        # wrote is flushed, files are closed, no thread or atexit hook is ours.
        # A caller that passes argv (a test, in-process) gets SystemExit.
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
