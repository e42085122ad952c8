"""``kill``: send a signal to the init (or, with ``--all``, every process in the cgroup)."""

from __future__ import annotations

import _signal  # signal's C module: its numbers, without signal's enum import
import os

from .container import Container, new_cgroup
from .errors import InvalidArgument, InvalidState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cli import Globals


def parse_signal(value: str | int) -> int:
    """``9``, ``KILL`` or ``SIGKILL`` → 9."""
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    number = getattr(_signal, name, None) if not name.startswith("SIG_") else None
    if not isinstance(number, int):
        raise InvalidArgument(f"unknown signal {value!r}")
    return number


def pids(c: Container) -> list[int]:
    """Every process of the container: the cgroup's, else the init's process tree."""
    path = c.state.get("cgroupsPath")
    if path:
        mgr = new_cgroup(path, None)
        if mgr is not None and mgr.exists():
            return mgr.pids()
    return descendants(c.pid)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return sorted(out)


def kill(root: str, container_id: str, sig: int | str = _signal.SIGTERM, all_: bool = False) -> None:
    c = Container(root, container_id).load()
    signum = parse_signal(sig)
    if c.status() == "stopped":
        raise InvalidState("container not running")
    for pid in pids(c) if all_ else [c.pid]:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def cli(verb: str, argv: list[str], g: Globals) -> int:
    all_ = False
    rest = []
    for a in argv:
        if a in ("-a", "--all"):
            all_ = True
        else:
            rest.append(a)
    if not 1 <= len(rest) <= 2:
        raise SystemExit("usage: dockyard-runtime kill [--all] <container-id> [signal]")
    kill(g.root, rest[0], rest[1] if len(rest) > 1 else "SIGTERM", all_)
    return 0
