"""The C supervisor (``shim/dockyard-shim.c``): build it, hand a supervisor over to it, run its execs.

A Python supervisor costs ~2.6 MiB PSS per running container; the steady
state (copying output to the log and the daemon, stdin, resize, reaping,
``exit.json``) needs none of Python. So the Python supervisor does the rare,
complex part (creating and starting the container with the in-process
runtime) and then ``execve``\\ s ``dockyard-shim`` in the same process
(``handoff_argv``): same pid, still the init's parent, subreaper and session
leader; the fds it held are inherited and named on argv. containerd-shim
and conmon split the same way.

- ``binary(cache_dir)``: the shim built static with ``-Os`` on first use and
  kept under the daemon's root by the source's hash, as ``--init``'s
  docker-init is (``bundle._compiled_init``); concurrent first starts build
  it once (a lock file). No gcc or no static libc: "" and the reason, and
  the supervisor stays Python.
- ``handoff_argv``: the argv the shim reads (``key=value``; bytes in hex).
- ``cshim_exec.py``: what the shim runs for an ``exec`` request, health
  probes included (``python -IS .../cshim_exec.py exec RUNTIME_ROOT ID
  RUN_DIR``, named on the shim's argv as ``helper=`` and ``pyflags=``; a
  fresh interpreter per exec, so it imports as little as it can: see its
  docstring). It reads the daemon's exec request on fd 3, runs the
  runtime's exec path (the process is its child, reparented to the shim,
  the subreaper, when it exits) and answers on fd 3. ``python -m
  dockyard.engine.cshim exec ...`` does the same for shims built before.

The daemon picks the supervisor with ``dockyard daemon --supervisor
c|python`` (default c): it sets ``DOCKYARD_SUPERVISOR`` and
``DOCKYARD_SHIM_CACHE`` (``<root>/shim``) in its environment before forking
the zygote, so every supervisor sees them. Handed over: the json-file and
none log drivers; ``local`` stays in Python.

The package directory is ``shim/`` but holds no Python: ``engine/shim.py``
(the daemon's side of the connection) owns the name ``engine.shim``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SOURCE = os.path.join(os.path.dirname(__file__), "shim", "dockyard-shim.c")
MODE_ENV = "DOCKYARD_SUPERVISOR"
CACHE_ENV = "DOCKYARD_SHIM_CACHE"
MODES = ("c", "python")
# Bytes the Python supervisor may carry over on argv (hex doubles them; one
# argv string may be 128 KiB). Past this the handoff waits for a quieter moment.
MAX_CARRY = 32 * 1024
LOG_DRIVERS = ("json-file", "none")
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cshim_exec.py")


def helper_flags() -> str:
    """The exec helper's interpreter flags: ``-IS`` (cshim_exec.py says why), plus
    ``-B`` when this process writes no bytecode (``-I`` would ignore
    PYTHONDONTWRITEBYTECODE)."""
    from .cshim_exec import PYTHON_FLAGS

    return PYTHON_FLAGS + ("B" if sys.dont_write_bytecode else "")


def binary(cache_dir: str) -> tuple[str, str]:
    """(path of the built shim, "") or ("", why it cannot be had)."""
    from .cbuild import build_static

    return build_static(SOURCE, cache_dir, "dockyard-shim")


def built_path(cache_dir: str) -> str:
    """Where ``binary`` keeps the shim of this source (it may not be built yet)."""
    from .cbuild import cached_path

    return cached_path(SOURCE, cache_dir, "dockyard-shim")


def wanted() -> tuple[str, str]:
    """The shim binary if this daemon wants the C supervisor: (path, "") or ("", why not)."""
    mode = os.environ.get(MODE_ENV, "python")
    if mode != "c":
        return "", ""
    cache = os.environ.get(CACHE_ENV, "")
    if not cache:
        return "", f"{CACHE_ENV} is not set"
    return binary(cache)


def handoff_argv(path: str, *, spec: dict[str, Any], ctl: int, listener: int, init_pid: int,
                 outs: dict[int, int], master: int | None, stdin: int | None,
                 close_stdin: bool, pending: bytes, parser: bytes,
                 log_fd: int, log_size: int, max_size: int, max_file: int,
                 partial_out: bytes, partial_err: bytes) -> list[str]:
    """The shim's argv; every fd named here must be inheritable."""
    args: dict[str, object] = {
        "ctl": ctl, "listen": listener, "init": init_pid,
        "stdin": -1 if stdin is None else stdin, "closestdin": int(close_stdin),
        "pending": pending.hex(), "parser": parser.hex(),
        "log": log_fd, "logpath": str((spec.get("log") or {}).get("path", "")),
        "logsize": log_size, "maxsize": max_size, "maxfile": max_file,
        "part1": partial_out.hex(), "part2": partial_err.hex(),
        "rundir": str(spec["run_dir"]), "python": sys.executable,
        "runtime": str(spec["runtime_root"]), "id": str(spec["id"]),
        "helper": HELPER, "pyflags": helper_flags(),
    }
    if master is not None:
        args["master"] = master
        args["out1"] = master
    else:
        for fd, stream in outs.items():
            args[f"out{stream}"] = fd
    # The daemon's root on the command line as the daemon has it, so `ps`
    # (and the tests' cleanup) can tell which daemon a supervisor belongs to.
    root = os.path.dirname(os.environ.get(CACHE_ENV, "").rstrip("/"))
    return [path, *(f"{k}={v}" for k, v in args.items()), "--root", root]


def handoff_env() -> dict[str, str]:
    """The shim's environment: ours, with this dockyard importable by its exec helper."""
    env = dict(os.environ)
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (top, env.get("PYTHONPATH", "")) if p)
    return env


# --- the exec helper: cshim_exec.py; this form is what shims built before it run ---


if __name__ == "__main__":  # pragma: no cover - run by the shim
    if len(sys.argv) == 5 and sys.argv[1] == "exec":
        from dockyard.engine.cshim_exec import serve

        serve(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("usage: python -m dockyard.engine.cshim exec RUNTIME_ROOT ID RUN_DIR")
