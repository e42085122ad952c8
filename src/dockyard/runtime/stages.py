"""Process setup in named stages, runc's nsexec in Python.

::

    runtime ([0:PARENT], the caller: CLI or engine; not renamed in-process)
      │ fork ───────────────▶ dy:[1:CHILD]   non-dumpable; closes stray fds;
      │                        joins the cgroup itself; reads its cgroup
      │                        lines; setns (paths); unshare(user) →
      │ write uid/gid maps ◀─── "usermap" ──┤  unshare(the rest);
      │ "usermap-ok" ─────────────────────▶ │ clone(CLONE_PARENT) ─▶ dy:[2:INIT]
      │ ◀── "init" pid ─────────────────────┘ exits     pid 1 of a new pid ns,
      │ ("go-init" pid, only for createContainer/  child of the runtime (so the
      │  startContainer hooks) ──────────────────────▶ caller can waitpid it);
      │ ◀── "hooks" (only with prestart/createRuntime hooks) ── rootfs,
      │ "hooks-ok" ─────────────────────────────────▶ pivot_root, process
      │ ◀── "ready" ───────────────────────────────── setup; then create: block
                                                    on exec.fifo / exec: execve

Speed: every message is a hand-off between processes, and on a loaded
machine each costs a scheduler wake-up, so the common case (no hooks) needs
only "init" and "ready" (plus "usermap" with a new user namespace). The
init then runs while the runtime records its pid; "init" and "ready" may
arrive in either order (they come from two processes).

Direct path: a single-threaded runtime (the CLI) creating a container that
joins nothing and has no new user or time namespace clones ``[2:INIT]``
itself, straight into the new namespaces, and skips ``[1:CHILD]`` (a fork
of this large process fewer); the init then does [1:CHILD]'s first steps
(``_isolate``) and only "ready" is sent. Why that is safe: ``_direct_flags``.

Why stages: ``unshare(CLONE_NEWPID)`` only affects children, so the pid 1
of the container must be a child of the process that unshared; and a
CPython process with threads (the engine) must never call setns/unshare, so
all namespace work happens in a freshly forked, single-threaded process
("fork before threads"). The message table is in ``sync.py``.

``[1:CHILD]`` makes itself non-dumpable before touching any namespace: a
process in the container then cannot open ``/proc/PID/exe`` (our python)
while we join it (CVE-2019-5736). It also closes every fd it did not get on
purpose, so nothing of the caller's (engine sockets, host directories)
reaches the container (CVE-2024-21626).

``[2:INIT]`` is made with a raw ``clone(CLONE_PARENT)``: its parent is the
runtime, not the short-lived ``[1:CHILD]``. That is safe here because the
cloning process has a single thread; Python's fork bookkeeping only matters
with other threads.
"""

from __future__ import annotations

# ``_signal``, the C module under ``signal``: same functions and numbers,
# without the ``enum`` import (signals.py says why).
import _signal as signal
import ctypes
import gc
import os

from dockyard.linux import syscalls as sc

from . import process, rootfs, sync
from .errors import ProcessSetupError
from .securejoin import secure_join

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.oci.runtime import Process, Spec

    from .cgroups import CgroupManager
    from .process import SeccompFilter

NS_FLAGS: dict[str, int] = {
    "user": sc.CLONE_NEWUSER,
    "pid": sc.CLONE_NEWPID,
    "network": sc.CLONE_NEWNET,
    "mount": sc.CLONE_NEWNS,
    "ipc": sc.CLONE_NEWIPC,
    "uts": sc.CLONE_NEWUTS,
    "cgroup": sc.CLONE_NEWCGROUP,
    "time": sc.CLONE_NEWTIME,
}
NS_PROC_NAMES: dict[str, str] = {
    "user": "user", "pid": "pid", "network": "net", "mount": "mnt",
    "ipc": "ipc", "uts": "uts", "cgroup": "cgroup", "time": "time",
}
# setns order: user first (the rest are owned by it), mount last (after it,
# /proc paths resolve in the container).
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")

PR_SET_DUMPABLE = 4
CLONE_PARENT = 0x00008000
_SYS_clone = 56  # x86_64
# clone(2)/clone3(2) through PyDLL: the GIL stays held across the call. Through
# CDLL it is released, and in a process with other threads one of them could
# take it meanwhile: the child, a copy with only our thread, would then wait
# for it forever. (The callers are single-threaded forks anyway: a raw clone
# skips glibc's fork handlers, so other locks, malloc's, are not made safe.)
_libc = ctypes.PyDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class Launch:
    """Everything the stages need; built by create/exec, inherited by fork.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect`` (and
    ast, dis, tokenize), ~7 ms of every ``create``.
    """

    def __init__(
        self,
        *,
        mode: str,  # "create" or "exec"
        process: Process,
        spec: Spec | None = None,  # create: the whole config
        bundle: str = "",
        rootfs: str = "",
        state_dir: str = "",
        join: dict[str, str] | None = None,  # ns type -> path
        new: list[str] | None = None,  # ns types to unshare
        uid_map: str = "",
        gid_map: str = "",
        console_fd: int = -1,
        stdio: tuple[int, int, int] | None = None,
        preserve_fds: int = 0,
        no_pivot: bool = False,
        cgroup: CgroupManager | None = None,
        seccomp: SeccompFilter | None = None,
        on_init: Callable[[int], None] | None = None,
        parent_hooks: Callable[[int], None] | None = None,
        container_hooks: Callable[[str, int], None] | None = None,
    ) -> None:
        self.mode = mode
        self.process = process
        self.spec = spec
        self.bundle = bundle
        self.rootfs = rootfs
        self.state_dir = state_dir
        self.join: dict[str, str] = join if join is not None else {}
        self.new: list[str] = new if new is not None else []
        self.uid_map = uid_map
        self.gid_map = gid_map
        self.console_fd = console_fd
        self.stdio = stdio
        self.preserve_fds = preserve_fds
        self.no_pivot = no_pivot
        self.cgroup = cgroup
        self.cgroup_lines: list[str] = []  # set by [1:CHILD] for [2:INIT]
        self.in_cgroup2 = False  # the init was cloned into its cgroup2 directory (direct path)
        self.seccomp = seccomp
        # runtime-side callbacks
        self.on_init = on_init
        # None when config.json has no such hooks: the stages then skip the
        # "hooks" and "go-init" hand-offs (see the diagram).
        self.parent_hooks = parent_hooks
        self.container_hooks = container_hooks  # (phase, host pid), in init


def launch(cfg: Launch) -> int:
    """Run the stages; return the init's host pid once it is ready.

    create: the init waits on exec.fifo. exec: the process has exec'd.
    On failure every stage is killed and reaped, and the error raised.
    """
    if cfg.process.terminal:
        # Imported now, in the runtime: after pivot_root the init could not.
        from . import console  # noqa: F401
    parent, child = sync.socketpair()
    known: list[int] = []  # the init's pid, as soon as "init" is in
    pid1 = 0
    flags = _direct_flags(cfg)
    if flags:
        init_pid = _clone_direct(cfg, flags)
        if init_pid == 0:  # pragma: no cover - runs in the init
            parent.close()
            _run_stage(lambda: _stage_direct(cfg, child), child)
        known.append(init_pid)
    else:
        pid1 = os.fork()
        if pid1 == 0:  # pragma: no cover - runs in the child
            parent.close()
            _run_stage(lambda: _stage_child(cfg, child), child)
    child.close()
    try:
        if known:
            _got_init(cfg, parent, known[0])
        init_pid = _converse(cfg, parent, known)
    except BaseException:
        if not known:
            # [1:CHILD] may have cloned the init and not yet said so (the
            # init's "error" can overtake "init"). Killing it now could lose
            # the pid and leave the init behind. Instead: no more messages
            # from us (a stage waiting for one reads EOF and exits), let
            # [1:CHILD] finish (it exits right after "init" or at that EOF),
            # then read what it sent.
            _shutdown_write(parent)
            _reap(pid1)
            known.append(_sent_init_pid(parent))
        elif pid1:
            _kill_reap(pid1)
        if known[0]:
            _kill_reap(known[0])
        raise
    finally:
        parent.close()
        if pid1:
            _reap(pid1)
    return init_pid


def _converse(cfg: Launch, parent: sync.Socket, known: list[int]) -> int:
    """The runtime's side of the message table (sync.py); the init's host pid.

    "init" comes from [1:CHILD], everything after it from [2:INIT]: two
    senders, so the init's first message may overtake "init". Those are held
    back until the pid is known (hooks and state need it).
    """
    init_pid = known[0] if known else 0
    ready = False
    held: list[dict[str, object]] = []
    while True:
        msg = held.pop(0) if held and init_pid else sync.recv(parent)
        if msg is None:
            if ready and init_pid:
                return init_pid
            raise ProcessSetupError("container init exited during setup")
        kind = msg["type"]
        if kind == "error":
            raise ProcessSetupError(str(msg.get("message")))
        if kind == "usermap":
            _write_maps(int(str(msg["pid"])), cfg.uid_map, cfg.gid_map)
            sync.send(parent, "usermap-ok")
        elif kind == "init":
            init_pid = int(str(msg["pid"]))
            known.append(init_pid)
            _got_init(cfg, parent, init_pid)
        elif not init_pid:
            held.append(msg)
        elif kind == "hooks":
            if cfg.parent_hooks is not None:
                cfg.parent_hooks(init_pid)
            sync.send(parent, "hooks-ok")
        elif kind == "ready":
            ready = True
            if cfg.mode == "create":
                return init_pid
            # exec: EOF (the socket is close-on-exec) says execve worked.


def _got_init(cfg: Launch, parent: sync.Socket, pid: int) -> None:
    if cfg.on_init is not None:
        cfg.on_init(pid)
    if cfg.container_hooks is not None:
        sync.send(parent, "go-init", pid=pid)


def _direct_flags(cfg: Launch) -> int:
    """clone flags to make the init straight from the runtime, or 0 for two stages.

    Direct saves a fork of this (large) process, its page-table copy and
    copy-on-write faults, its exit, and a hand-off. It is only for the
    simple, common case, and only when safe:

    - this process has one thread: a raw clone copies a process whose other
      threads may hold locks (malloc, the GIL) that nobody would release;
      os.fork's bookkeeping is no help for clone. (The engine has threads:
      it takes the two-stage path.)
    - nothing to join (``setns`` into a pid namespace needs an intermediate
      process), no new user namespace (its uid/gid maps are written from
      outside between unshare and setuid), no new time namespace (clone()
      cannot take CLONE_NEWTIME: its bit is part of the exit signal).
    - the init is non-dumpable, in the cgroup and stripped of stray fds
      before it does anything else (``_isolate``), as [1:CHILD] would be; it
      is alone in its new pid namespace meanwhile, and it joins nothing, so
      no container process can reach it (CVE-2019-5736 is about joining).
      The cgroup namespace is unshared after joining the cgroup.
    """
    if cfg.mode != "create" or cfg.join or "user" in cfg.new or "time" in cfg.new:
        return 0
    if not _single_threaded():
        return 0
    flags = int(signal.SIGCHLD)
    for t in cfg.new:
        if t != "cgroup":
            flags |= NS_FLAGS[t]
    return flags


def _single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _clone(flags: int) -> int:
    """Raw clone(2) without a new stack: returns like fork (0 in the child)."""
    pid = int(_libc.syscall(ctypes.c_long(_SYS_clone), ctypes.c_long(flags),
                                  ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0),
                                  ctypes.c_long(0)))
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


_SYS_clone3 = 435  # x86_64
CLONE_INTO_CGROUP = 0x200000000


def _clone_direct(cfg: Launch, flags: int) -> int:
    """``_clone(flags)``, the child started in its cgroup2 directory when there is one.

    ``clone3(CLONE_INTO_CGROUP)`` places the child at birth; a later write
    to ``cgroup.procs`` would take the kernel's global threadgroup lock and
    wait out an RCU grace period (``CgroupManager.join_self``). The init
    still joins its v1 hierarchies first thing (``_isolate``). Any refusal
    (an older kernel, a cgroup that cannot take processes) falls back to
    the plain clone and a joining write, as before.
    """
    where = cfg.cgroup.unified() if cfg.cgroup is not None else None
    if where:
        try:
            fd = os.open(where, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                cfg.in_cgroup2 = True  # the child's copy of cfg says so
                return _clone3(flags, fd)
            except OSError:
                cfg.in_cgroup2 = False
            finally:
                os.close(fd)  # in the child too: its copy
    return _clone(flags)


def _clone3(flags: int, cgroup_fd: int) -> int:
    """Raw clone3(2) without a new stack, into ``cgroup_fd``: returns like fork."""
    exit_signal = flags & 0xFF
    # struct clone_args (v2, 88 bytes): flags, pidfd, child_tid, parent_tid,
    # exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup.
    args = (ctypes.c_uint64 * 11)(flags & ~0xFF | CLONE_INTO_CGROUP, 0, 0, 0, exit_signal,
                                  0, 0, 0, 0, 0, cgroup_fd)
    pid = int(_libc.syscall(ctypes.c_long(_SYS_clone3), ctypes.byref(args),
                                  ctypes.c_long(ctypes.sizeof(args))))
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone3: {os.strerror(err)}")
    return pid


def _shutdown_write(sock: sync.Socket) -> None:
    try:
        sock.shutdown(1)  # SHUT_WR: the peers' recv returns EOF
    except OSError:
        pass


def _sent_init_pid(parent: sync.Socket) -> int:
    """After a failure before "init" was read: the init's pid if [1:CHILD] sent it.

    [1:CHILD] has exited by now, so its messages are all in the socket:
    read what is there without waiting.
    """
    parent.setblocking(False)
    try:
        while (msg := sync.recv(parent)) is not None:
            if msg["type"] == "init":
                return int(msg["pid"])
    except (OSError, ValueError):
        pass
    return 0


def _kill_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _read_cgroups(pid: int | str) -> list[str]:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        return []


def _write_maps(pid: int, uid_map: str, gid_map: str) -> None:
    try:
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(uid_map)
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(gid_map)
    except OSError as e:
        raise ProcessSetupError(f"writing uid/gid mappings of the user namespace: {e}") from None


# --- the stages (run in children) ------------------------------------------------


def _run_stage(body: Callable[[], None], sock: sync.Socket | None) -> None:  # pragma: no cover
    """Run a stage body; report any failure on the sync socket; never return."""
    code = 0
    try:
        body()
    except BaseException as e:
        code = 1
        message = str(e) or type(e).__name__
        try:
            if sock is not None and sock.fileno() >= 0:
                sync.send(sock, "error", message=message)
            else:
                os.write(2, f"dockyard-runtime init: {message}\n".encode())
        except OSError:
            os.write(2, f"dockyard-runtime init: {message}\n".encode())
    finally:
        os._exit(code)


def _reset_signals() -> None:
    # The caller's handlers (the engine's) must not run here, and signals it
    # ignores (Python ignores SIGPIPE) would stay ignored across execve.
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _relocate(fd: int, floor: int) -> int:
    """Move ``fd`` to ``floor`` or above (close-on-exec), freeing low numbers."""
    import fcntl

    if fd < 0 or fd >= floor:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return new


def _isolate(cfg: Launch, sock: sync.Socket) -> sync.Socket:  # pragma: no cover
    """The first steps of the first process we made: [1:CHILD], or the init when direct.

    Non-dumpable, in the cgroup, default signals, and no fd but the ones
    meant for the container (stdio, preserved, console) and the sync socket
    (returned, moved above the preserved range).
    """
    sc.prctl(PR_SET_DUMPABLE, 0)
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    gc.disable()
    if cfg.cgroup is not None:
        # First, before anything else runs here: every descendant (the
        # container) inherits the cgroup. Joining it ourselves rather than
        # have the runtime do it and send "go" saves a hand-off; the order is
        # the same (in the cgroup before any namespace is touched).
        # Single-threaded here (a fork, or a raw clone of a single-threaded
        # process), as join_self needs.
        cfg.cgroup.join_self(cfg.in_cgroup2)
    if cfg.spec is not None and any(m.type == "cgroup" for m in cfg.spec.mounts or ()):
        # The init's cgroup mounts need the host's view of its cgroups: ours
        # now (the init inherits them), before any cgroup namespace.
        cfg.cgroup_lines = _read_cgroups("self")
    _reset_signals()
    # Keep stdio, the preserved fds (3..3+N), the sync socket and the console
    # socket; close the rest. Move ours above the preserved range first.
    floor = 3 + cfg.preserve_fds
    if cfg.stdio is not None:
        for i, fd in enumerate(cfg.stdio):
            if fd != i:
                os.dup2(fd, i)
    sync_fd = _relocate(sock.detach(), floor)
    cfg.console_fd = _relocate(cfg.console_fd, max(floor, sync_fd + 1))
    keep = sorted(fd for fd in (sync_fd, cfg.console_fd) if fd >= floor)
    low = floor
    for fd in keep:
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 2**31 - 1)
    if cfg.console_fd >= 0:
        os.set_inheritable(cfg.console_fd, False)
    return sync.Socket(fileno=sync_fd)


def _stage_child(cfg: Launch, sock: sync.Socket) -> None:  # pragma: no cover
    sc.set_process_name("dy:[1:CHILD]")
    sock = _isolate(cfg, sock)
    # Open every namespace first: once in the container's mount namespace,
    # /proc/PID paths would resolve in the container's /proc.
    fds = [(t, os.open(cfg.join[t], os.O_RDONLY | os.O_CLOEXEC)) for t in JOIN_ORDER if t in cfg.join]
    for t, fd in fds:
        try:
            sc.setns(fd, NS_FLAGS[t])
        except OSError as e:
            raise ProcessSetupError(f"joining {t} namespace {cfg.join[t]!r}: {e.strerror}") from None
        os.close(fd)
        if t == "user":
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
    if "user" in cfg.new:
        sc.unshare(sc.CLONE_NEWUSER)
        sync.send(sock, "usermap", pid=os.getpid())
        sync.expect(sock, "usermap-ok")
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        sc.prctl(PR_SET_DUMPABLE, 0)
    flags = 0
    for t in cfg.new:
        if t != "user":
            flags |= NS_FLAGS[t]
    if flags:
        sc.unshare(flags)
    pid = _clone(CLONE_PARENT | signal.SIGCHLD)
    if pid == 0:
        _run_stage(lambda: _stage_init(cfg, sock), sock)
    sync.send(sock, "init", pid=pid)


def _stage_direct(cfg: Launch, sock: sync.Socket) -> None:  # pragma: no cover
    """The init made directly by the runtime, already in its new namespaces but cgroup."""
    sc.set_process_name("dy:[2:INIT]")
    sock = _isolate(cfg, sock)

    def body() -> None:
        if "cgroup" in cfg.new:
            # Only now, inside the container's cgroup: that becomes the root
            # of the new cgroup namespace.
            sc.unshare(sc.CLONE_NEWCGROUP)
        _stage_init(cfg, sock)

    _run_stage(body, sock)  # errors go to the relocated socket


def _stage_init(cfg: Launch, sock: sync.Socket) -> None:  # pragma: no cover
    sc.set_process_name("dy:[2:INIT]")
    # The parent-death signal is not inherited: ask again (our parent is the
    # runtime, thanks to CLONE_PARENT). Cleared once setup is over.
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    host_pid = 0
    if cfg.container_hooks is not None:
        # The hooks' state needs our host pid; only the runtime knows it.
        host_pid = int(sync.expect(sock, "go-init")["pid"])
    os.setsid()
    proc = cfg.process
    in_userns = "user" in cfg.new or "user" in cfg.join
    state_fd = -1
    if cfg.mode == "create":
        spec = cfg.spec
        assert spec is not None
        rootfs.prepare(spec, cfg.rootfs, cfg.bundle, cfg.cgroup_lines, in_userns)
        state_fd = os.open(cfg.state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if cfg.parent_hooks is not None:
            sync.send(sock, "hooks")
            sync.expect(sock, "hooks-ok")
        if cfg.container_hooks is not None:
            cfg.container_hooks("createContainer", host_pid)
        # Like runc: a missing cwd is made (as root, before the root turns read-only).
        try:
            os.makedirs(secure_join(cfg.rootfs, proc.cwd), 0o755, exist_ok=True)
        except OSError:
            pass  # enter_cwd reports it
        rootfs.pivot(cfg.rootfs, cfg.no_pivot)
        rootfs.finalize(spec, in_userns)
    if proc.terminal:
        if cfg.console_fd < 0:
            raise ProcessSetupError("process.terminal is set but no --console-socket was given")
        from . import console  # already in sys.modules (see launch)

        size = proc.console_size
        console.setup_in_container(cfg.console_fd, size.height if size else 0, size.width if size else 0)
    process.set_rlimits(proc.rlimits)
    process.set_oom_score_adj(proc.oom_score_adj)
    path = process.lookup((proc.args or [""])[0], proc.env or [])
    if cfg.mode == "create":
        sc.prctl(sc.PR_SET_PDEATHSIG, 0)
        sync.send(sock, "ready")
        sock.close()
        # Blocks until `start` opens the fifo for reading.
        fifo = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=state_fd)
        os.write(fifo, b"0")
        os.close(fifo)
        os.close(state_fd)
        if cfg.container_hooks is not None:
            cfg.container_hooks("startContainer", host_pid)
        process.finish(proc, cfg.seccomp, path, cfg.preserve_fds)
    else:
        sync.send(sock, "ready")
        sc.prctl(sc.PR_SET_PDEATHSIG, 0)
        process.finish(proc, cfg.seccomp, path, cfg.preserve_fds, sock.fileno())
