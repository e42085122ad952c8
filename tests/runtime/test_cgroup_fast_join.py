"""The init's fast cgroup join: clone3(CLONE_INTO_CGROUP) + ``join_self`` (v1 ``tasks``).

Both must leave the process in exactly the cgroup ``add(pid)`` would, in
every hierarchy the host has; the speed-up (no RCU grace period per
container) is measured by bench/engine.py, not asserted here.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from dockyard.runtime import stages
from dockyard.runtime.cgroups import CgroupManager, new_manager


@pytest.fixture
def mgr(unique: str) -> Iterator[CgroupManager]:
    m = new_manager(f"/dockyard/{unique}", None)
    m.create()
    try:
        yield m
    finally:
        m.destroy()


def _cgroups(pid: int) -> dict[str, str]:
    """hierarchy (controllers, "" for cgroup2) → path, from /proc/PID/cgroup."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _id, ctrls, path = line.rstrip("\n").split(":", 2)
            out[ctrls] = path
    return out


def _report_and_wait(w: int, r2: int, w2: int) -> None:  # pragma: no cover - runs in the child
    os.close(w2)  # ours: EOF on r2 is the parent closing its end
    os.write(w, b"x")
    os.read(r2, 1)
    os._exit(0)


def _expected(mgr: CgroupManager, before: dict[str, str]) -> dict[str, str]:
    # Every hierarchy the manager covers ends at its path; the others
    # (an unmounted hugetlb, ...) stay as they were.
    want = dict(before)
    for ctrls in before:
        if ctrls == "" and mgr.unified() is None:
            continue
        d = _dir_for(mgr, ctrls)
        if d is not None:
            want[ctrls] = mgr.path
    return want


def _dir_for(mgr: CgroupManager, ctrls: str) -> str | None:
    if ctrls == "":
        return mgr.unified()
    dirs: dict[str, str] = getattr(mgr, "dirs", {})
    for c in ctrls.split(","):
        if c in dirs:
            return dirs[c]
    return None


def _run_child(mgr: CgroupManager, into_cgroup2: bool) -> dict[str, str]:
    r, w = os.pipe()
    r2, w2 = os.pipe()
    flags = int(signal.SIGCHLD)
    if into_cgroup2:
        where = mgr.unified()
        assert where is not None
        fd = os.open(where, os.O_PATH | os.O_DIRECTORY)
        try:
            pid = stages._clone3(flags, fd)
        finally:
            os.close(fd)  # in the child too: its copy
    else:
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: one thread, as join_self needs
        try:
            mgr.join_self(into_cgroup2)
        finally:
            _report_and_wait(w, r2, w2)
    os.close(w)
    os.close(r2)
    try:
        assert os.read(r, 1) == b"x"
        return _cgroups(pid)
    finally:
        os.close(w2)
        os.close(r)
        os.waitpid(pid, 0)


def _in_a_fork(mgr: CgroupManager, into_cgroup2: bool) -> dict[str, str]:
    """``_run_child`` from a single-threaded fork of this process, as the runtime clones
    (from its own fork): the test process has threads (xdist's), and a raw clone copies
    whatever lock one of them holds at that moment into a child that can never take it."""
    import json
    import select

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the fork
        code = 1
        try:
            os.close(r)
            os.write(w, json.dumps(_run_child(mgr, into_cgroup2)).encode())
            code = 0
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    try:
        while True:
            ready, _, _ = select.select([r], [], [], 60)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("the fork did not answer in 60 s")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    assert data, "the fork failed (see its traceback above)"
    return json.loads(data)  # type: ignore[no-any-return]


def test_join_self_lands_where_add_would(mgr: CgroupManager) -> None:
    got = _in_a_fork(mgr, into_cgroup2=False)
    assert got == _expected(mgr, _cgroups(os.getpid()))


def test_clone_into_cgroup2_then_join_self_lands_where_add_would(mgr: CgroupManager) -> None:
    if mgr.unified() is None:
        pytest.skip("no cgroup2 hierarchy on this host")
    got = _in_a_fork(mgr, into_cgroup2=True)
    assert got[""] == mgr.path  # placed at birth, never written
    assert got == _expected(mgr, _cgroups(os.getpid()))


def test_clone3_refused_is_an_oserror_not_a_child() -> None:
    with pytest.raises(OSError):
        stages._clone3(int(signal.SIGCHLD), -1)  # no such cgroup fd: EBADF
