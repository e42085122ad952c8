"""The C supervisor's exec helper: one short-lived interpreter per ``docker exec`` and health probe.

The C shim (``shim/dockyard-shim.c``) cannot run the runtime's exec path
itself, so for each exec it forks and runs this file as a script::

    python -IS .../dockyard/engine/cshim_exec.py exec RUNTIME_ROOT ID RUN_DIR

A health probe is an exec, so this interpreter's start-up is paid once per
probe of every container with a healthcheck: on the path of every
``depends_on: condition: service_healthy``. Hence the diet:

- run as a script, not ``-m``: no ``runpy`` (importlib.util, contextlib);
  ``-I`` ignores PYTHON* variables and the user site; ``-S`` skips
  ``site`` (the venv's .pth files, ~10 ms) — so the top of this tree goes
  on ``sys.path`` by hand (``__main__`` below);
- nothing of ``dockyard.engine`` (the daemon's side) is imported, and no
  msgspec: the process arrives as the JSON ``msgspec.to_builtins`` made of an
  ``oci.runtime.Process``, decoded into ``runtime.config``'s views, which
  the runtime's stages read like the structs; ``runtime.jsonio`` instead of
  ``json``; ``_socket`` instead of ``socket`` (whose ``enum`` import costs
  more than the rest); the tty path's modules only for a tty.
- the seccomp program comes from the runtime's cache
  (``runtime.seccomp_cache``); on a miss (first exec in a container of a
  new profile) ``site`` is loaded after all, for pyseccomp, and the
  compiled program is kept for the next probe.

``tests/engine/test_engine_cshim_exec.py`` holds the import list to that.

The protocol (unchanged from the ``-m dockyard.engine.cshim exec`` form,
which still works: shims built before this file hand over to it): the
daemon's request on fd 3 (``{"ch", "tty", "stdin", "h", "w", "process"}``)
until EOF; the answer on fd 3, JSON ``{"ok", "pid", "tty"}`` or ``{"ok":
false, "message"}`` and, by SCM_RIGHTS, the process's stdio: ``[master]``
for a tty, else ``[stdout, stderr]`` plus its stdin's write end when stdin
is open. The process is this helper's child; the shim, a subreaper, reaps
it once the helper has exited.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.oci.runtime import Process

# The flags the shim runs this file with (see the docstring).
PYTHON_FLAGS = "-IS"


def decode_process(data: object) -> Process:
    """The request's ``process`` (wire names) as a ``runtime.config`` view of ``Process``;
    ``InvalidConfig`` naming the bad field otherwise."""
    from dockyard.runtime import config, jsonio

    spec = config.load_config(jsonio.dumps({"ociVersion": "1.0.2", "process": data}))
    if spec.process is None:
        from dockyard.runtime.errors import InvalidConfig

        raise InvalidConfig("exec request: no process")
    return spec.process


def _seccomp(root: str, spec: Any) -> Any:
    from dockyard.runtime import seccomp_cache

    hit = seccomp_cache.lookup(root, spec)
    if hit is not None:
        return hit
    if "site" not in sys.modules:  # run with -S: pyseccomp lives in site-packages
        import site

        site.main()
    return seccomp_cache.prepare(root, spec)


def exec_process(root: str, cid: str, proc: Process, *,
                 stdio: tuple[int, int, int] | None = None, console_socket: str = "") -> int:
    """``runtime.exec.exec_process`` without msgspec: the container's config
    decoded into views. The pid of the new process (our child)."""
    from dockyard.runtime import config, stages
    from dockyard.runtime import process as process_setup
    from dockyard.runtime.container import Container, new_cgroup
    from dockyard.runtime.errors import InvalidArgument, InvalidState

    c = Container(root, cid).load()
    status = c.status()
    if status in ("stopped", "paused"):
        raise InvalidState(f"cannot exec in a {status} container")
    if proc.terminal and not console_socket:
        raise InvalidArgument("cannot allocate tty without a console socket")
    spec = config.load_config(c.config_bytes())
    process_setup.check(proc)
    namespaces = (spec.linux.namespaces or []) if spec.linux else []
    join = {ns.type: f"/proc/{c.pid}/ns/{stages.NS_PROC_NAMES[ns.type]}" for ns in namespaces}
    mgr = None
    if c.state.get("cgroupsPath"):
        mgr = new_cgroup(c.state["cgroupsPath"], None)
        if mgr is not None and not mgr.exists():
            mgr = None
    seccomp = _seccomp(root, spec.linux.seccomp) if spec.linux and spec.linux.seccomp else None
    console_fd = -1
    if console_socket:
        from dockyard.runtime.console import connect

        console_fd = connect(console_socket)
    try:
        return stages.launch(stages.Launch(
            mode="exec", process=proc, join=join, console_fd=console_fd, stdio=stdio,
            cgroup=mgr, seccomp=seccomp))
    finally:
        if console_fd >= 0:
            os.close(console_fd)


def _tty_exec(root: str, cid: str, proc: Process, run_dir: str, ch: int,
              h: int, w: int) -> tuple[int, int]:
    """(pid, pty master) of an exec with a terminal (rare: ``socket`` is fine here)."""
    import socket

    from dockyard.runtime.console import receive_master

    path = os.path.join(run_dir, f"exec-{ch}.sock")
    if os.path.exists(path):
        os.unlink(path)
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lst.bind(path)
        lst.listen(1)
        pid = exec_process(root, cid, proc, console_socket=path)
        lst.settimeout(10)
        conn, _ = lst.accept()
        with conn:
            master = receive_master(conn)
    finally:
        lst.close()
        os.unlink(path)
    if h or w:
        import fcntl
        import struct
        import termios

        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
        except OSError:
            pass
    return pid, master


def serve(runtime_root: str, cid: str, run_dir: str, fd: int = 3) -> None:
    """Read one exec request on ``fd``, start the process, answer (see the docstring)."""
    import _socket
    import array

    from dockyard.runtime import jsonio

    sock = _socket.socket(fileno=fd)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    fds: list[int] = []
    try:
        msg = jsonio.loads(b"".join(chunks))
        ch, tty = int(msg["ch"]), bool(msg.get("tty"))
        proc = decode_process(msg["process"])
        if tty:
            pid, master = _tty_exec(runtime_root, cid, proc, run_dir, ch,
                                    int(msg.get("h", 0)), int(msg.get("w", 0)))
            fds = [master]
        else:
            child: list[int] = []
            if msg.get("stdin"):
                r, wr = os.pipe()
                child.append(r)
            else:
                child.append(os.open(os.devnull, os.O_RDONLY))
            outs = []
            for _ in (1, 2):
                pr, pw = os.pipe()
                outs.append(pr)
                child.append(pw)
            pid = exec_process(runtime_root, cid, proc, stdio=(child[0], child[1], child[2]))
            fds = outs + ([wr] if msg.get("stdin") else [])
        reply: dict[str, object] = {"ok": True, "pid": pid, "tty": tty}
    except Exception as e:
        reply = {"ok": False, "message": str(e) or type(e).__name__}
    data = jsonio.dumps(reply).encode()
    if fds:
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                               array.array("i", fds).tobytes())])
    else:
        sock.sendall(data)
    sock.close()


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "exec":
        serve(argv[1], argv[2], argv[3])
        return 0
    print("usage: python -IS cshim_exec.py exec RUNTIME_ROOT ID RUN_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover - run by the shim
    # -I leaves the script's directory off sys.path (just as well: engine/
    # would shadow nothing today, but it is not a top); the tree's top goes on.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    sys.exit(main(sys.argv[1:]))
