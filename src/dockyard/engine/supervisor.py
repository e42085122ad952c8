"""The per-container supervisor: containerd-shim's role.

One small process per running container, forked from the zygote
(``zygote.py``), never from the threaded daemon. It

1. makes itself a session leader and a child subreaper, listens on
   ``<run-dir>/supervisor.sock``;
2. creates and starts the container with the in-process runtime, so the
   container's init is *its* child: it alone collects the exit status;
3. holds the container's stdio (pipes, or the pty master the runtime sends
   over a console socket), writes the log (``logfile.py``) and copies
   output to whichever daemon is connected (``frames.py``);
4. runs ``exec`` processes on request, and copies their stdio the same way;
5. when the init exits: drains the output, writes ``exit.json``
   atomically (so a daemon that was down at that moment still learns the
   exit), tells the daemon, and exits.

The daemon may die and come back at any moment: output then goes to the
log only, and the next daemon connects to ``supervisor.sock`` and is
greeted with ``hello``. The supervisor never waits on the daemon (sends
time out after a few seconds and drop the connection).

Kept small: stdlib plus the runtime's create/start/exec path, all imported
by the zygote before it forks, so their pages are shared. Smaller still:
once the container has started (and no exec is running), the daemon's
``--supervisor c`` (the default) has this process ``execve`` the C shim
(``cshim.py``, ``shim/dockyard-shim.c``), which carries on with the same
fds, socket and protocol; only the ``local`` log driver, or a host without
gcc, keeps the Python loop to the end.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import selectors
import signal
import socket
import struct
import sys
import termios
import time
from collections.abc import Callable
from typing import Any

from . import cshim, frames
from .logfile import JsonFileWriter, rfc3339nano

SOCKET = "supervisor.sock"
EXIT_FILE = "exit.json"
PID_FILE = "supervisor.pid"
# How long an exec's output may stay open after its process exited (a
# background child holding the pipe) before the channel is closed anyway.
EXEC_DRAIN = 1.0
INIT_DRAIN = 3.0
# The runtime's create/exec of one container; far above the usual 50-150 ms.
HELPER_TIMEOUT = 60.0


class Channel:
    def __init__(self, ch: int) -> None:
        self.ch = ch
        self.pid = 0
        self.stdin: int | None = None
        self.pending = bytearray()
        self.close_stdin = False
        self.outs: dict[int, int] = {}  # fd -> stream (1 stdout, 2 stderr)
        self.master: int | None = None
        self.code: int | None = None
        self.deadline = 0.0


class Supervisor:
    def __init__(self, spec: dict[str, Any], ctl_fd: int) -> None:
        self.spec = spec
        self.id: str = spec["id"]
        self.run_dir: str = spec["run_dir"]
        # The runtime's verbs as functions, not ``runtime.api.Runtime``: its
        # ``State`` answers are msgspec structs, and msgspec (5 MiB) is
        # loaded only for the Python supervisor's execs (``_exec``).
        self.rt_root: str = spec["runtime_root"]
        self.sel = selectors.DefaultSelector()
        self.ctl: socket.socket | None = socket.socket(fileno=ctl_fd)
        self.ctl.settimeout(5)
        self.parser = frames.Parser()
        self.started = False
        # Run the runtime's create and start here rather than in a helper
        # fork (``_in_helper``): set by ``run`` when this process will
        # ``execve`` the C shim right after the start, which drops every
        # page they dirtied; the helper's fork and exit are then only cost
        # (~10 ms each, on the start's critical path).
        self.in_place = False
        self.channels: dict[int, Channel] = {}
        self.by_pid: dict[int, Channel] = {}
        log = spec.get("log") or {}
        self.log: JsonFileWriter | None = None
        if log.get("driver") == "json-file":
            self.log = JsonFileWriter(log["path"], log["max_size"], log["max_file"])
        elif log.get("driver") == "local":
            from .locallog import LocalFileWriter

            self.log = LocalFileWriter(log["path"], log["max_size"], log["max_file"],
                                       bool(log.get("compress", True)))
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = os.path.join(self.run_dir, SOCKET)
        if os.path.exists(path):
            os.unlink(path)
        self.listener.bind(path)
        self.listener.listen(4)
        self.sel.register(self.listener, selectors.EVENT_READ, ("listen", None))
        self.sel.register(self.ctl, selectors.EVENT_READ, ("ctl", None))
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = r
        signal.set_wakeup_fd(w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(r, selectors.EVENT_READ, ("wake", None))

    # --- talking to the daemon ------------------------------------------------

    def send(self, frame: bytes) -> None:
        if self.ctl is None:
            return
        try:
            self.ctl.sendall(frame)
        except OSError:
            self._drop_ctl()

    def _drop_ctl(self) -> None:
        abort = self.ctl is not None and not self.started and 0 in self.channels
        if self.ctl is not None:
            try:
                self.sel.unregister(self.ctl)
            except (KeyError, ValueError):
                pass
            self.ctl.close()
            self.ctl = None
        if abort:
            self._abort()  # the daemon went away between create and start

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        self._drop_ctl()  # one daemon at a time: the newest wins
        conn.settimeout(5)
        self.ctl = conn
        self.parser = frames.Parser()
        self.sel.register(conn, selectors.EVENT_READ, ("ctl", None))
        init = self.channels.get(0)
        self.send(frames.ctrl({"event": "hello", "pid": init.pid if init else 0,
                               "execs": [c for c in self.channels if c]}))

    def _read_ctl(self) -> None:
        assert self.ctl is not None
        try:
            chunk = self.ctl.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop_ctl()
            return
        for kind, _stream, ch, payload in self.parser.feed(chunk):
            if kind == frames.DATA:
                self._stdin(ch, payload)
            else:
                self._ctrl(json.loads(payload))

    def _ctrl(self, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "start" and not self.started:
            self._start()
        elif op == "abort" and not self.started:
            self._abort()
        elif op == "exec":
            self._exec(msg)
        elif op == "resize":
            c = self.channels.get(int(msg.get("ch", 0)))
            if c is not None and c.master is not None:
                _winsize(c.master, int(msg.get("h", 0)), int(msg.get("w", 0)))

    def _stdin(self, ch: int, payload: bytes) -> None:
        c = self.channels.get(ch)
        if c is None or c.stdin is None:
            return
        if payload:
            c.pending += payload
        else:
            c.close_stdin = True
        self._flush_stdin(c)

    def _flush_stdin(self, c: Channel) -> None:
        assert c.stdin is not None
        try:
            while c.pending:
                n = os.write(c.stdin, c.pending)
                del c.pending[:n]
        except BlockingIOError:
            pass
        except OSError:
            c.pending.clear()
            c.close_stdin = True
        key = self.sel.get_map().get(c.stdin)
        if c.pending and key is None:
            self.sel.register(c.stdin, selectors.EVENT_WRITE, ("stdin", c.ch))
        elif not c.pending:
            if key is not None:
                self.sel.unregister(c.stdin)
            if c.close_stdin:
                os.close(c.stdin)
                c.stdin = None

    # --- processes ---------------------------------------------------------------

    def _stdio(self, c: Channel, tty: bool, stdin: bool, console: str) -> tuple[
            tuple[int, int, int] | None, socket.socket | None, list[int]]:
        """(stdio for the runtime, console listener, fds to close after create)."""
        if tty:
            path = os.path.join(self.run_dir, console)
            if os.path.exists(path):
                os.unlink(path)
            lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lst.bind(path)
            lst.listen(1)
            return None, lst, []
        child: list[int] = []
        if stdin:
            r, w = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(w, False)
            c.stdin = w
            child.append(r)
        else:
            r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            child.append(r)
        for stream in (1, 2):
            pr, pw = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(pr, False)
            c.outs[pr] = stream
            child.append(pw)
        return (child[0], child[1], child[2]), None, child

    def _attach_console(self, c: Channel, lst: socket.socket, h: int, w: int) -> None:
        from dockyard.runtime.console import receive_master

        lst.settimeout(10)
        conn, _ = lst.accept()
        try:
            master = receive_master(conn)
        finally:
            conn.close()
            path = lst.getsockname()
            lst.close()
            os.unlink(path)
        os.set_blocking(master, False)
        if h or w:
            _winsize(master, h, w)
        c.master = master
        c.outs[master] = 1
        c.stdin = os.dup(master)

    def _watch(self, c: Channel) -> None:
        self.channels[c.ch] = c
        self.by_pid[c.pid] = c
        for fd in c.outs:
            self.sel.register(fd, selectors.EVENT_READ, ("out", c.ch))

    def start_init(self) -> bool:
        """Create the container (its init waits on exec.fifo); tell the daemon."""
        spec = self.spec
        c = Channel(0)
        stdio, lst, child = self._stdio(c, spec["tty"], spec["open_stdin"], "console.sock")
        root, cid, bundle = self.rt_root, self.id, spec["bundle"]
        console = lst.getsockname() if lst else None

        def create() -> dict[str, Any]:
            from dockyard.runtime.create import create

            try:
                pid = create(root, cid, bundle, stdio=stdio, console_socket=console).pid
            except BaseException:
                from dockyard.runtime.delete import delete

                try:
                    delete(root, cid, force=True)
                except Exception:
                    pass
                raise
            return {"pid": pid}

        try:
            if self.in_place:
                res = _in_process(create)
            else:
                res = _in_helper(create)
            if not res["ok"]:
                raise RuntimeError(res["message"])
            if lst is not None:
                self._attach_console(c, lst, spec.get("h", 0), spec.get("w", 0))
            c.pid = int(res["pid"])
        except Exception as e:  # reported to the daemon, then we exit
            self.send(frames.ctrl({"event": "error", "message": str(e) or type(e).__name__}))
            return False
        finally:
            for fd in child:
                os.close(fd)
        self._watch(c)
        with open(os.path.join(self.run_dir, PID_FILE), "w") as f:
            f.write(f"{os.getpid()} {c.pid}\n")
        # The init waits on exec.fifo: the daemon sets up what must exist
        # before the program runs (the network) and then says "start".
        self.send(frames.ctrl({"event": "created", "pid": c.pid}))
        return True

    def _start(self) -> None:
        root, cid = self.rt_root, self.id

        def start() -> dict[str, Any]:
            from dockyard.runtime.start import start

            start(root, cid)
            return {}

        # Only when the C shim takes over next (its execve drops what the
        # start dirtied): kept in Python, the supervisor would carry it
        # (~0.3 MiB PSS more each, measured) for the container's whole life.
        res = _in_process(start) if self.in_place else _in_helper(start)
        if res["ok"]:
            self.started = True
            self.send(frames.ctrl({"event": "started", "pid": self.channels[0].pid}))
        else:
            self.send(frames.ctrl({"event": "error", "message": res["message"]}))
            self._abort()

    def _abort(self) -> None:
        """Never started (refused, or the daemon went away first): remove it all."""
        root, cid = self.rt_root, self.id

        def delete() -> dict[str, Any]:
            from dockyard.runtime.delete import delete

            delete(root, cid, force=True)
            return {}

        _in_helper(delete)
        self._reap()

    def _exec(self, msg: dict[str, Any]) -> None:
        import msgspec

        from dockyard.oci.runtime import Process
        from dockyard.runtime.api import Runtime

        ch = int(msg["ch"])
        c = Channel(ch)
        tty = bool(msg.get("tty"))
        stdio, lst, child = self._stdio(c, tty, bool(msg.get("stdin")), f"exec-{ch}.sock")
        rt, cid = Runtime(self.rt_root), self.id
        console = lst.getsockname() if lst else None

        def run() -> dict[str, Any]:
            proc = msgspec.json.decode(json.dumps(msg["process"]).encode(), type=Process)
            return {"pid": rt.exec(cid, proc, stdio=stdio, console_socket=console)}

        try:
            res = _in_helper(run)
            if not res["ok"]:
                raise RuntimeError(res["message"])
            c.pid = int(res["pid"])
            if lst is not None:
                self._attach_console(c, lst, int(msg.get("h", 0)), int(msg.get("w", 0)))
        except Exception as e:
            for fd in [*c.outs, *([c.stdin] if c.stdin is not None else [])]:
                os.close(fd)
            self.send(frames.ctrl({"event": "exec-error", "ch": ch,
                                   "message": str(e) or type(e).__name__}))
            return
        finally:
            for fd in child:
                os.close(fd)
        self._watch(c)
        self.send(frames.ctrl({"event": "exec-started", "ch": ch, "pid": c.pid}))

    def _read_out(self, ch: int, fd: int) -> None:
        c = self.channels[ch]
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the pty's last slave closed
                raise
            chunk = b""
        if not chunk:
            self.sel.unregister(fd)
            del c.outs[fd]
            if fd != c.master:
                os.close(fd)
            return
        stream = c.outs[fd]
        if ch == 0 and self.log is not None:
            self.log.write("stdout" if stream == 1 else "stderr", chunk)
        self.send(frames.data(stream, ch, chunk))

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            c = self.by_pid.pop(pid, None)
            if c is None:
                continue  # an orphan of the container, reparented to us
            code = os.waitstatus_to_exitcode(status)
            c.code = 128 - code if code < 0 else code
            c.deadline = time.monotonic() + (INIT_DRAIN if c.ch == 0 else EXEC_DRAIN)

    def _finish(self, c: Channel) -> None:
        for fd in list(c.outs):
            self.sel.unregister(fd)
            if fd != c.master:
                os.close(fd)
        c.outs.clear()
        for maybe in (c.stdin, c.master):
            if maybe is not None:
                fd = maybe
                try:
                    self.sel.unregister(fd)
                except (KeyError, ValueError):
                    pass
                os.close(fd)
        c.stdin = c.master = None
        del self.channels[c.ch]
        if c.ch != 0:
            self.send(frames.ctrl({"event": "exit", "ch": c.ch, "code": c.code}))
            return
        if self.log is not None:
            self.log.close()
        record = {"ExitCode": c.code, "FinishedAt": rfc3339nano(time.time_ns()), "Pid": c.pid}
        path = os.path.join(self.run_dir, EXIT_FILE)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)
        self.send(frames.ctrl({"event": "exit", "ch": 0, **record}))

    def run(self) -> None:
        # Built (or found) before the container exists, so a first build
        # never holds up its output.
        shim, why = _wanted_shim()
        driver = (self.spec.get("log") or {}).get("driver", "none")
        if shim and driver not in cshim.LOG_DRIVERS:
            shim, why = "", f"the C supervisor does not write the {driver!r} log driver"
        if why:
            print(f"dy-supervisor: staying in Python: {why}", file=sys.stderr, flush=True)
        self.in_place = bool(shim)
        if not self.start_init():
            return
        while 0 in self.channels:
            if shim and self._can_hand_off():
                shim = self._hand_off(shim)  # returns only if the execve failed
            now = time.monotonic()
            waits = [c.deadline - now for c in self.channels.values() if c.code is not None]
            timeout = max(0.0, min(waits)) if waits else None
            for key, _ in self.sel.select(timeout):
                what, ch = key.data
                if what == "out" and ch in self.channels:
                    self._read_out(ch, key.fd)
                elif what == "stdin" and ch in self.channels:
                    self._flush_stdin(self.channels[ch])
                elif what == "ctl" and self.ctl is not None:
                    self._read_ctl()
                elif what == "listen":
                    self._accept()
                elif what == "wake":
                    try:
                        os.read(self.wake, 512)
                    except BlockingIOError:
                        pass
                    self._reap()
            now = time.monotonic()
            for c in list(self.channels.values()):
                if c.code is not None and (not c.outs or now >= c.deadline):
                    self._finish(c)
        # The init is gone: execs died with its pid namespace.
        for c in list(self.channels.values()):
            c.code = 137 if c.code is None else c.code
            self._finish(c)

    # --- the C supervisor (cshim.py) -------------------------------------------------

    def _can_hand_off(self) -> bool:
        """Started, no exec running, the init alive, little to carry over."""
        c = self.channels.get(0)
        return (self.started and c is not None and list(self.channels) == [0]
                and c.code is None and len(c.pending) <= cshim.MAX_CARRY
                and len(self.parser._buf) <= cshim.MAX_CARRY)

    def _hand_off(self, path: str) -> str:
        """``execve`` the C supervisor in this process, passing what we hold."""
        c = self.channels[0]
        fds = [self.listener.fileno(), *c.outs]
        fds += [fd for fd in (c.stdin, c.master) if fd is not None]
        if self.ctl is not None:
            fds.append(self.ctl.fileno())
        log_fd, size, parts = -1, 0, (b"", b"")
        max_size, max_file = -1, 1
        if self.log is not None:
            self.log._f.flush()
            log_fd, size = self.log._f.fileno(), self.log._size
            parts = (self.log._partial["stdout"], self.log._partial["stderr"])
            max_size, max_file = self.log.max_size, self.log.max_file
            fds.append(log_fd)
        argv = cshim.handoff_argv(
            path, spec=self.spec, ctl=self.ctl.fileno() if self.ctl is not None else -1,
            listener=self.listener.fileno(), init_pid=c.pid, outs=c.outs, master=c.master,
            stdin=c.stdin, close_stdin=c.close_stdin, pending=bytes(c.pending),
            parser=bytes(self.parser._buf) if self.ctl is not None else b"", log_fd=log_fd, log_size=size, max_size=max_size,
            max_file=max_file, partial_out=parts[0], partial_err=parts[1])
        for fd in fds:
            os.set_inheritable(fd, True)
        sys.stderr.flush()
        try:
            os.execve(path, argv, cshim.handoff_env())
        except OSError as e:
            for fd in fds:
                os.set_inheritable(fd, False)
            print(f"dy-supervisor: staying in Python: cannot run {path}: {e}",
                  file=sys.stderr, flush=True)
        return ""


def _in_helper(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn`` in a short-lived child and return its result.

    The runtime's create and exec paths touch most of the runtime's code
    and data; done here, every page they touch would be copied into this
    long-lived process (copy-on-write from the zygote). A child pays that
    and exits. The container's init (or exec'd process) is the child's
    child; when the child exits the kernel hands it to us, the subreaper,
    even if it already exited (as a zombie), so we still reap it.

    Not for the create and start of a supervisor that hands off to the C
    shim (``Supervisor.in_place``, ``_in_process``): its ``execve`` drops
    those pages anyway, and the fork would only add ~10 ms to each.
    """
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the helper
        os.close(r)
        try:
            out = {"ok": True, **fn()}
        except BaseException as e:
            out = {"ok": False, "message": str(e) or type(e).__name__}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + HELPER_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([r], [], [], max(0.0, left))
        if not ready:
            # A setup stage that never answers: kill the helper; its own
            # child then sees EOF on their sync socket and exits too.
            os.kill(pid, signal.SIGKILL)
            chunks = [json.dumps({"ok": False, "message": "the runtime did not finish "
                                  f"within {HELPER_TIMEOUT:.0f}s"}).encode()]
            break
        try:
            chunk = os.read(r, 65536)
        except InterruptedError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    while True:
        try:
            os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            break
    try:
        return json.loads(b"".join(chunks))  # type: ignore[no-any-return]
    except ValueError:
        return {"ok": False, "message": "the runtime helper died"}


# ``cshim.wanted()`` as the zygote found it before forking us (``zygote.py``):
# asking again costs every start a read and hash of the shim's source.
SHIM_AHEAD: tuple[str, str] | None = None


def _wanted_shim() -> tuple[str, str]:
    if SHIM_AHEAD is not None and SHIM_AHEAD[0] and os.path.exists(SHIM_AHEAD[0]):
        return SHIM_AHEAD
    return cshim.wanted()


class _Overdue(BaseException):
    pass


def _in_process(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``_in_helper``'s contract without the fork: same result shape, same deadline.

    The deadline is a SIGALRM whose handler raises, which interrupts a
    setup stage's blocking read (PEP 475 retries only when the handler
    returns); ``fn``'s own error handling then kills what it made. Interval
    timers are not inherited across fork/clone, so the init never sees it.
    """
    def overdue(_sig: int, _frame: object) -> None:
        raise _Overdue

    old = signal.signal(signal.SIGALRM, overdue)
    signal.setitimer(signal.ITIMER_REAL, HELPER_TIMEOUT)
    try:
        return {"ok": True, **fn()}
    except _Overdue:
        return {"ok": False, "message": f"the runtime did not finish within {HELPER_TIMEOUT:.0f}s"}
    except Exception as e:
        return {"ok": False, "message": str(e) or type(e).__name__}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _winsize(fd: int, h: int, w: int) -> None:
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
    except OSError:
        pass


def main(spec: dict[str, Any], ctl_fd: int) -> None:
    """The supervisor process's body (called in a fresh fork of the zygote)."""
    from dockyard.linux import syscalls as sc

    os.setsid()
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sc.set_process_name("dy-supervisor")
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    os.chdir(spec["run_dir"])
    # Nothing of the daemon's stdio: a test's pipe or a terminal would be
    # held open for the container's whole life.
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open("supervisor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    Supervisor(spec, ctl_fd).run()
