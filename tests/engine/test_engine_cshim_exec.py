"""The C shim's exec helper (engine/cshim_exec.py) runs lean: every exec and health probe pays it.

A private daemon with ``--supervisor c``; the shim's own argv names the
helper and its flags; the helper, run with those flags exactly as the shim
runs it, starts a real process in the container and imports neither msgspec
nor ``json``/``socket``/``runpy``/``site`` nor the engine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from daemon_helpers import Daemon

from dockyard.engine import cshim

pytestmark = pytest.mark.needs_root


def _shim_args(d: Daemon, name: str) -> dict[str, str]:
    """The C shim's ``key=value`` argv, once the supervisor has handed over."""
    cid = d.docker("inspect", "--format", "{{.Id}}", name, check=True).stdout.decode().strip()
    with open(os.path.join(d.run_root, "c", cid[:12], "supervisor.pid")) as f:
        sup = int(f.read().split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.readlink(f"/proc/{sup}/exe").startswith(os.path.join(d.root, "shim", "")):
            with open(f"/proc/{sup}/cmdline", "rb") as f:
                argv = f.read().decode().split("\0")
            return dict(a.split("=", 1) for a in argv[1:] if "=" in a)
        time.sleep(0.1)
    raise AssertionError("the supervisor never became the C shim")


def _fd3(fd: int) -> None:
    """In the child: the socket on fd 3, inheritable, as the shim hands it."""
    os.dup2(fd, 3)
    os.set_inheritable(3, True)


def _run_helper(args: dict[str, str], request: dict[str, object], *, legacy: bool = False,
                ) -> tuple[dict[str, object], list[int], str]:
    """The helper exactly as the shim runs it (plus -X importtime): its reply, fds, stderr.
    ``legacy``: the ``-m dockyard.engine.cshim`` form that shims built before run."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    head = [args["python"], "-X", "importtime", "-m", "dockyard.engine.cshim"] if legacy else \
        [args["python"], args["pyflags"], "-X", "importtime", args["helper"]]
    with ours:
        p = subprocess.Popen(
            [*head, "exec", args["runtime"], args["id"], args["rundir"]],
            close_fds=False, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            preexec_fn=lambda: _fd3(theirs.fileno()))
        theirs.close()
        ours.sendall(json.dumps(request).encode())
        ours.shutdown(socket.SHUT_WR)
        data, fds, _, _ = socket.recv_fds(ours, 65536, 3)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()[-2000:]
    return json.loads(data), fds, err.decode()


def _imported(importtime: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in importtime.splitlines()
            if line.startswith("import time:") and "|" in line} - {"package"}


def test_shim_names_the_lean_helper_and_it_runs_a_process_without_msgspec(
        cd: Daemon, unique: str) -> None:
    name = f"{unique}-lean"
    cd.docker("run", "-d", "--name", name, "busybox", "sleep", "300", check=True)
    try:
        args = _shim_args(cd, name)
        assert args["helper"] == cshim.HELPER and args["helper"].endswith("cshim_exec.py")
        assert args["pyflags"].startswith("-IS")
        # the first exec of a container compiles and keeps its seccomp program
        r = cd.docker("exec", name, "sh", "-c", "echo hi; exit 3")
        assert (r.returncode, r.stdout) == (3, b"hi\n")
        process = {"args": ["sh", "-c", "echo out; echo err >&2"], "cwd": "/",
                   "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}}
        reply, fds, err = _run_helper(args, {"ch": 99, "tty": False, "stdin": False,
                                             "process": process})
        assert reply["ok"] is True and reply["tty"] is False, reply
        assert isinstance(reply["pid"], int) and len(fds) == 2
        outs = []
        for fd in fds:
            with os.fdopen(fd, "rb") as f:
                # -X importtime reaches the process's stderr from the forked
                # stages (their imports after the fork): not the process's output
                outs.append(b"".join(ln for ln in f.read().splitlines(keepends=True)
                                     if not ln.startswith(b"import time:")))
        assert outs == [b"out\n", b"err\n"]
        mods = _imported(err)
        assert "dockyard.runtime.stages" in mods  # the real exec path ran
        heavy = {"msgspec", "json", "socket", "runpy", "site", "typing", "dockyard.engine",
                 "dockyard.oci.runtime", "dockyard.runtime.exec"}
        assert not mods & heavy, sorted(mods & heavy)
        # the form a shim built before cshim_exec.py runs still works
        reply, fds, _ = _run_helper(args, {"ch": 98, "tty": False, "stdin": False,
                                           "process": process}, legacy=True)
        assert reply["ok"] is True and len(fds) == 2, reply
        for fd in fds:
            os.close(fd)
    finally:
        cd.docker("rm", "-f", name)


def test_helper_reports_a_bad_request_naming_the_field(cd: Daemon, unique: str) -> None:
    name = f"{unique}-bad"
    cd.docker("run", "-d", "--name", name, "busybox", "sleep", "300", check=True)
    try:
        args = _shim_args(cd, name)
        reply, fds, _ = _run_helper(args, {"ch": 1, "tty": False, "stdin": False,
                                           "process": {"args": "true", "cwd": "/"}})
        assert reply["ok"] is False and fds == []
        assert "$.process.args" in str(reply["message"]), reply
        # a stopped container: refused, nothing started
        gone = dict(args, id="no-such-container")
        reply, fds, _ = _run_helper(gone, {"ch": 2, "tty": False, "stdin": False,
                                           "process": {"args": ["true"], "cwd": "/"}})
        assert reply["ok"] is False and fds == [] and reply["message"], reply
    finally:
        cd.docker("rm", "-f", name)


def test_flags_add_B_when_bytecode_is_not_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert cshim.helper_flags() == "-ISB"
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert cshim.helper_flags() == "-IS"
