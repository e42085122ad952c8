"""The zygote: a fork server for supervisors.

Forking a supervisor straight from the daemon would copy a threaded
asyncio process (unsafe: locks held by other threads stay held in the
child) and all of aiohttp's pages. Exec'ing a fresh interpreter per
container would cost an interpreter start and ~10 MiB each. Instead the
daemon starts this server once, as a fresh interpreter of its own
(``python -I``: nothing of the daemon's CLI, click or aiohttp in its pages);
it imports the supervisor and the runtime's create/start path once, freezes
the GC (so collections do not dirty the shared pages) and waits.
For each container the daemon sends one request (a JSON spec plus, by
SCM_RIGHTS, its end of a socketpair); the zygote forks, the child becomes
the supervisor, and the zygote answers with its pid. Supervisors share the
zygote's pages copy-on-write, so each costs only what it writes.

The zygote dies with the daemon (EOF on its socket); supervisors do not:
they are in their own sessions and keep their containers running.

``warm(bundle, key, runtime_root)``: compiling Docker's default seccomp
profile costs a create ~15-30 ms (libseccomp's BPF export, pyseccomp's
import). The daemon asks the zygote to compile each new profile once, from
the first bundle that uses it, before forking that bundle's supervisor: a
short-lived child of the zygote compiles it into the runtime's cache of
compiled programs (``runtime.seccomp_cache``), which every later create
reads without libseccomp. The zygote itself never loads libseccomp and its
imports (2.5 MiB it would otherwise hold, idle or not).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import socket
import threading
from typing import Any


class Zygote:
    """The daemon's handle on the fork server."""

    def __init__(self) -> None:
        import subprocess
        import sys

        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # -I: no PYTHON* variables, no user site, no script directory on
        # sys.path; this tree goes on it by hand, as it may not be installed.
        top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = (f"import sys; sys.path.insert(0, {top!r}); "
                f"from dockyard.engine.zygote import _serve_fd; _serve_fd({child.fileno()})")
        flags = "-IB" if sys.dont_write_bytecode else "-I"
        try:
            self._proc = subprocess.Popen([sys.executable, flags, "-c", code],
                                          pass_fds=[child.fileno()], stdin=subprocess.DEVNULL)
        finally:
            child.close()
        self.pid = self._proc.pid
        self._sock = parent
        self._lock = threading.Lock()
        self._warmed: set[str] = set()

    def spawn(self, spec: dict[str, Any], ctl_fd: int) -> int:
        """Fork a supervisor for ``spec`` holding ``ctl_fd``; its pid."""
        with self._lock:
            # A fork takes milliseconds; a zygote that does not answer is
            # broken, and a stuck start must not hang its client forever.
            self._sock.settimeout(30)
            try:
                socket.send_fds(self._sock, [json.dumps(spec).encode()], [ctl_fd])
                reply = self._sock.recv(64)
            except TimeoutError:
                raise OSError("the supervisor fork server did not answer") from None
        if not reply:
            raise OSError("the supervisor fork server is gone")
        return int(reply)

    def is_warm(self, key: str) -> bool:
        """Whether ``warm`` has nothing (more) to do for ``key``."""
        return key in self._warmed or len(self._warmed) >= _WARM_MAX

    def warm(self, bundle: str, key: str, runtime_root: str) -> None:
        """Have the seccomp profile of ``bundle`` compiled into ``runtime_root``'s
        cache (once per ``key``)."""
        if self.is_warm(key):
            return
        with self._lock:
            self._sock.settimeout(30)
            try:
                self._sock.send(json.dumps({"warm": bundle, "root": runtime_root}).encode())
                if not self._sock.recv(64):
                    raise OSError("the supervisor fork server is gone")
            except TimeoutError:
                raise OSError("the supervisor fork server did not answer") from None
        self._warmed.add(key)

    def close(self) -> None:
        self._sock.close()
        self._proc.wait()


# As many profiles as the runtime's seccomp cache keeps.
_WARM_MAX = 32


def _serve_fd(fd: int) -> None:  # pragma: no cover - runs in the zygote
    try:
        _serve(socket.socket(fileno=fd))
    finally:
        os._exit(0)


def _serve(sock: socket.socket) -> None:  # pragma: no cover - runs in the zygote
    from dockyard.linux import syscalls as sc

    # Ctrl-C on the daemon's terminal must not reach the zygote; and its
    # children (supervisors) are reaped by the kernel, not by us.
    # Only its socket was passed to it; supervisors inherit whatever it holds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    sc.set_process_name("dy-zygote")
    _preload()
    gc.collect()
    gc.freeze()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 1)
        except InterruptedError:
            continue
        if not msg:
            return
        spec = json.loads(msg)
        if "warm" in spec:
            _warm(spec["warm"], spec["root"])
            sock.send(b"0")
            continue
        _find_shim()
        pid = os.fork()
        if pid == 0:
            sock.close()
            code = 0
            try:
                from .supervisor import main

                main(spec, fds[0])
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        sock.send(str(pid).encode())


_shim_path = ""  # where cshim.binary() puts this source's build


def _find_shim() -> None:  # pragma: no cover - runs in the child
    """Tell the supervisors forked from now on where the built C shim is.

    Each supervisor asked ``cshim.wanted()`` itself, which reads and hashes
    the shim's source: ~5-10 ms of every start. Here it is found once. Not
    built here: the first supervisor does that (a daemon that never starts
    a container never runs gcc), so until then this checks for the file
    (one stat a start). The name is ``cshim.binary``'s; were it to change,
    this only misses and supervisors ask for themselves, as before.
    """
    global _shim_path
    from . import cshim, supervisor

    cache = os.environ.get(cshim.CACHE_ENV, "")
    if supervisor.SHIM_AHEAD is not None or os.environ.get(cshim.MODE_ENV) != "c" or not cache:
        return
    if not _shim_path:
        _shim_path = cshim.built_path(cache)
        if not _shim_path:
            return
    if os.path.exists(_shim_path):
        supervisor.SHIM_AHEAD = (_shim_path, "")


def _warm(bundle: str, root: str) -> None:  # pragma: no cover - runs in the zygote
    """Compile the bundle's seccomp filter into the runtime's cache, as its create
    would, in a child: libseccomp's pages die with it."""
    pid = os.fork()
    if pid == 0:
        try:
            from dockyard.runtime.create import load_bundle
            from dockyard.runtime.seccomp_cache import prepare

            spec, _raw = load_bundle(bundle)
            if spec.linux is not None and spec.linux.seccomp is not None:
                prepare(root, spec.linux.seccomp)
        except BaseException:  # only a head start: the container compiles its own
            pass
        finally:
            os._exit(0)
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except InterruptedError:
            continue
        except ChildProcessError:  # SIGCHLD is ignored: the kernel reaped it
            return


def _preload() -> None:
    """Import everything a supervisor runs, so forks share it.

    The create/start path decodes config.json with the stdlib
    (``runtime.config``). msgspec and the OCI types (2 MiB of this process)
    serve only the Python supervisor's execs: with the C shim, execs run in
    their own helper (``engine.cshim_exec``), so they are loaded only for
    ``--supervisor python``."""
    import dockyard.runtime.console
    import dockyard.runtime.create
    import dockyard.runtime.delete
    import dockyard.runtime.start

    from . import cshim, supervisor  # noqa: F401

    if os.environ.get(cshim.MODE_ENV, "python") != "c":
        import dockyard.runtime.api
        import dockyard.runtime.exec  # noqa: F401

    # Each container's create picks its cgroup manager by the host's mode;
    # imported per container, these cost a few ms of every start.
    for name in ("dockyard.runtime.cgroups.v1", "dockyard.runtime.cgroups.v2"):
        try:
            importlib.import_module(name)
        except ImportError:  # a head start only, as with warm()
            pass
