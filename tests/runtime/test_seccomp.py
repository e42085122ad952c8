"""seccomp filters from the spec, loaded in a forked child on the real kernel."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
from collections.abc import Callable

import pytest

from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.runtime import LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, load_config
from dockyard.runtime import seccomp

pytestmark = pytest.mark.needs_root

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUTS = 0x04000000


def in_child(spec: LinuxSeccomp, body: Callable[[], object]) -> tuple[int, object]:
    """Fork, load the filter built from ``spec``, run ``body``; (wait status, its result)."""
    flt = seccomp.prepare(spec)  # built in the parent, as the runtime does
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            flt.load()
            out = body()
            os.write(w, json.dumps(out).encode())
        except BaseException as e:
            os.write(w, json.dumps(f"exception {e!r}").encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return status, json.loads(data) if data else None


def errno_of(fn: Callable[[], object]) -> Callable[[], int]:
    def run() -> int:
        try:
            fn()
        except OSError as e:
            return e.errno or -1
        return 0

    return run


def test_errno_action_denies_mkdir(tmp_path) -> None:
    spec = LinuxSeccomp(
        default_action="SCMP_ACT_ALLOW",
        architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        syscalls=[LinuxSyscall(names=["mkdir", "mkdirat"], action="SCMP_ACT_ERRNO")],
    )
    status, got = in_child(spec, errno_of(lambda: os.mkdir(tmp_path / "x")))
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == errno.EPERM
    assert not (tmp_path / "x").exists()
    # The same call without the filter works: the test can tell the difference.
    os.mkdir(tmp_path / "x")


def test_errno_ret_and_default_errno_ret(tmp_path) -> None:
    spec = LinuxSeccomp(
        default_action="SCMP_ACT_ERRNO",
        default_errno_ret=errno.ENOSYS,
        syscalls=[
            LinuxSyscall(names=["mkdir", "mkdirat"], action="SCMP_ACT_ERRNO", errno_ret=errno.EROFS),
            # Everything Python needs to report back and exit.
            LinuxSyscall(
                names=["write", "exit", "exit_group", "rt_sigreturn", "rt_sigprocmask", "close",
                       "munmap", "brk", "mmap", "futex", "getpid", "gettid"],
                action="SCMP_ACT_ALLOW",
            ),
        ],
    )  # fmt: skip

    def body() -> list[int]:
        return [
            errno_of(lambda: os.mkdir(tmp_path / "y"))(),
            errno_of(lambda: os.rmdir(tmp_path))(),
        ]

    status, got = in_child(spec, body)
    assert got == [errno.EROFS, errno.ENOSYS]


def test_argument_conditions(tmp_path) -> None:
    existing = tmp_path / "existing"
    existing.write_text("hi")
    spec = LinuxSeccomp(
        default_action="SCMP_ACT_ALLOW",
        syscalls=[
            # openat(…, flags & O_CREAT == O_CREAT) → EACCES: no new files, reads still work.
            LinuxSyscall(
                names=["openat", "open"], action="SCMP_ACT_ERRNO", errno_ret=errno.EACCES,
                args=[LinuxSeccompArg(index=2, value=os.O_CREAT,
                                      value_two=os.O_CREAT, op="SCMP_CMP_MASKED_EQ")],
            ),
            # Two conditions on one index are ORed: kill(…, SIGUSR1 or SIGUSR2) → EPERM.
            LinuxSyscall(
                names=["kill"], action="SCMP_ACT_ERRNO",
                args=[LinuxSeccompArg(index=1, value=signal.SIGUSR1, op="SCMP_CMP_EQ"),
                      LinuxSeccompArg(index=1, value=signal.SIGUSR2, op="SCMP_CMP_EQ")],
            ),
            # Conditions on two indexes are ANDed: getpriority(PRIO_PROCESS, who >= 1) only.
            LinuxSyscall(
                names=["getpriority"], action="SCMP_ACT_ERRNO", errno_ret=errno.EDOM,
                args=[LinuxSeccompArg(index=0, value=0, op="SCMP_CMP_EQ"),
                      LinuxSeccompArg(index=1, value=1, op="SCMP_CMP_GE")],
            ),
        ],
    )  # fmt: skip
    me = os.getpid()

    def body() -> dict[str, int]:
        return {
            "create": errno_of(lambda: open(tmp_path / "new", "w"))(),
            "read": errno_of(lambda: open(existing).read())(),
            "usr1": errno_of(lambda: os.kill(me, signal.SIGUSR1))(),
            "usr2": errno_of(lambda: os.kill(me, signal.SIGUSR2))(),
            "sig0": errno_of(lambda: os.kill(me, 0))(),
            "prio_both": errno_of(lambda: os.getpriority(os.PRIO_PROCESS, 1))(),
            "prio_one": errno_of(lambda: os.getpriority(os.PRIO_PROCESS, 0))(),
        }

    old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        _, got = in_child(spec, body)
    finally:
        signal.signal(signal.SIGUSR1, old)
        signal.signal(signal.SIGUSR2, signal.SIG_DFL)
    assert got == {
        "create": errno.EACCES, "read": 0, "usr1": errno.EPERM, "usr2": errno.EPERM, "sig0": 0,
        "prio_both": errno.EDOM, "prio_one": 0,
    }  # fmt: skip
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_kill_and_trap_end_the_process_with_sigsys(action: str) -> None:
    spec = LinuxSeccomp(
        default_action="SCMP_ACT_ALLOW", syscalls=[LinuxSyscall(names=["uname"], action=action)]
    )
    status, got = in_child(spec, lambda: os.uname().sysname)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
    assert got is None


def test_default_profile_blocks_what_docker_blocks(tmp_path) -> None:
    spec = seccomp.default_profile()
    assert spec.default_action == "SCMP_ACT_ERRNO"
    names = {n for s in spec.syscalls or [] for n in s.names if s.action == "SCMP_ACT_ALLOW"}
    for blocked in ("keyctl", "add_key", "request_key", "kexec_load", "bpf", "perf_event_open",
                    "mount", "umount2", "unshare", "setns", "init_module", "reboot"):  # fmt: skip
        assert blocked not in names, blocked

    def body() -> dict[str, int]:
        def sysc(nr: int, *args: int) -> int:
            return 0 if _libc.syscall(nr, *args) >= 0 else ctypes.get_errno()

        return {
            "keyctl": sysc(250, 0),  # x86_64 __NR_keyctl
            "unshare": 0 if _libc.unshare(CLONE_NEWUTS) == 0 else ctypes.get_errno(),
            "mkdir": errno_of(lambda: os.mkdir(tmp_path / "ok"))(),
            "fork": errno_of(lambda: os.waitpid(_fork_exit(), 0))(),
        }

    _, got = in_child(spec, body)
    assert got == {"keyctl": errno.EPERM, "unshare": errno.EPERM, "mkdir": 0, "fork": 0}
    # With CAP_SYS_ADMIN, unshare and mount come back.
    admin = seccomp.default_profile([*seccomp.DEFAULT_CAPS, "CAP_SYS_ADMIN"])
    allowed = {n for s in admin.syscalls or [] for n in s.names if s.action == "SCMP_ACT_ALLOW"}
    assert {"unshare", "mount", "setns"} <= allowed


def _fork_exit() -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - grandchild
        os._exit(0)
    return pid


def test_unknown_syscall_names_are_skipped() -> None:
    flt = seccomp.prepare(
        LinuxSeccomp(
            default_action="SCMP_ACT_ALLOW",
            syscalls=[LinuxSyscall(names=["no_such_syscall", "mkdir"], action="SCMP_ACT_ERRNO")],
        )
    )
    assert flt.skipped == ["no_such_syscall"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"defaultAction": "SCMP_ACT_NOPE"}, r"\$\.linux\.seccomp\.defaultAction"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]},
         r"architectures\[0\].*SCMP_ARCH_Z80"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}, r"flags\[0\]"),
        ({"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_DENY"}]},
         r"syscalls\[0\]\.action.*SCMP_ACT_DENY"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
          "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]},
         r"syscalls\[0\]\.args\[0\]\.op.*SCMP_CMP_LIKE"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
          "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
         r"args\[0\]\.index: 7"),
        ({"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}, r"listenerPath"),
    ],
)  # fmt: skip
def test_bad_seccomp_is_a_clear_error(doc: dict[str, object], field: str) -> None:
    config = {"ociVersion": "1.2.0", "linux": {"seccomp": doc}}
    spec = load_config(json.dumps(config))
    assert spec.linux is not None and spec.linux.seccomp is not None
    with pytest.raises(InvalidSpecError, match=field):
        seccomp.prepare(spec.linux.seccomp)


def test_notify_hands_the_syscall_to_a_listener(tmp_path) -> None:
    import socket

    spec = LinuxSeccomp(
        default_action="SCMP_ACT_ALLOW",
        listener_path=str(tmp_path / "listener.sock"),
        syscalls=[LinuxSyscall(names=["mkdir", "mkdirat"], action="SCMP_ACT_NOTIFY")],
    )
    flt = seccomp.prepare(spec)
    assert flt.uses_notify
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            parent.close()
            flt.load()
            socket.send_fds(child, [b"fd"], [flt.notify_fd()])
            first = errno_of(lambda: os.mkdir(tmp_path / "refused"))()
            second = errno_of(lambda: os.mkdir(tmp_path / "allowed"))()
            code = 0 if (first, second) == (errno.EROFS, 0) else 2
        finally:
            os._exit(code)
    child.close()
    _, fds, _, _ = socket.recv_fds(parent, 16, 1)
    listener = fds[0]
    try:
        n = seccomp.receive_notification(listener)
        assert n.pid == pid and n.syscall in ("mkdir", "mkdirat")
        seccomp.respond(listener, n.id, error=errno.EROFS)
        n = seccomp.receive_notification(listener)
        seccomp.respond(listener, n.id, cont=True)  # the kernel runs this one
    finally:
        os.close(listener)
        parent.close()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not (tmp_path / "refused").exists() and (tmp_path / "allowed").is_dir()


def test_prepared_filters_share_the_program_not_the_state(tmp_path) -> None:
    spec = LinuxSeccomp(
        default_action="SCMP_ACT_ALLOW",
        flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
        syscalls=[LinuxSyscall(names=["mkdir", "mkdirat"], action="SCMP_ACT_ERRNO")],
    )
    a, b = seccomp.prepare(spec), seccomp.prepare(spec)
    assert a is not b and a.bpf == b.bpf and len(a.bpf) % 8 == 0
    assert a.flags == seccomp.FILTER_FLAG_LOG | seccomp.FILTER_FLAG_TSYNC
    # The flags reach the kernel: the filter still loads and works.
    _, got = in_child(spec, errno_of(lambda: os.mkdir(tmp_path / "x")))
    assert got == errno.EPERM
