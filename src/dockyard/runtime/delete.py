"""``delete``: remove a stopped container (``--force``: kill it first).

Order: kill (force) → wait until the init is gone → remove the cgroup →
poststop hooks (warnings only) → remove the state directory. Works on what a
crashed ``create`` left: a state.json without pid, or no state.json at all.
"""

from __future__ import annotations

import os
import time
from _signal import SIGKILL  # not ``signal``: its enum import costs every delete

from . import hooks, jsonio
from .container import Container, new_cgroup, proc_start_time, remove_dir
from .errors import ContainerNotFound, InvalidState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cli import Globals


def wait_child(pid: int) -> int:
    """Block until our child ``pid`` exits; its status (128+N if killed by signal N)."""
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def wait_gone(pid: int, start: int | None, timeout: float = 10.0) -> int | None:
    """Wait until ``pid`` exits; its exit status if it was our child."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            now = proc_start_time(pid)
            if now is None or (start is not None and now != start):
                return None
        if time.monotonic() > deadline:
            raise InvalidState(f"process {pid} did not exit within {timeout}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def delete(root: str, container_id: str, force: bool = False) -> None:
    c = Container(root, container_id)
    try:
        c.load()
    except ContainerNotFound:
        if force:
            return
        raise
    status = c.status()
    if status in ("running", "paused") and not force:
        raise InvalidState(f"cannot delete container {container_id} that is not stopped: {status}")
    mgr = None
    path = c.state.get("cgroupsPath")
    if path:
        mgr = new_cgroup(path, None)
    if status != "stopped":
        if status == "paused" and mgr is not None:
            mgr.thaw()
        try:
            os.kill(c.pid, SIGKILL)
        except ProcessLookupError:
            pass
        wait_gone(c.pid, c.state.get("initProcessStart"))
    elif c.pid:
        try:  # reap it if it is our child (in-process API)
            os.waitpid(c.pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if mgr is not None and mgr.exists():
        mgr.destroy()
    wire = c.config_json().get("hooks") or {}
    if wire.get("poststop"):
        state = c.oci_state()
        state["status"] = "stopped"
        hooks.run_warn(wire["poststop"], jsonio.dumps(state, compact=False).encode(), "poststop")
    remove_dir(c.dir)


def cli(verb: str, argv: list[str], g: Globals) -> int:
    force = False
    ids = []
    for a in argv:
        if a in ("-f", "--force"):
            force = True
        else:
            ids.append(a)
    if not ids:
        raise SystemExit("usage: dockyard-runtime delete [--force] <container-id>...")
    for cid in ids:
        delete(g.root, cid, force)
    return 0
