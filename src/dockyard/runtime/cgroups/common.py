"""What the v1 and v2 managers share: making directories, waiting, killing."""

from __future__ import annotations

import errno
import os
import time

# Not ``signal`` (its enum import costs every CLI call) nor collections.abc:
# this module is on the path of every create and delete.
from _signal import SIGKILL

from . import fs
from .errors import CgroupWriteError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def make_dirs(path: str, mountpoint: str) -> list[str]:
    """``mkdir -p`` below ``mountpoint``; return the directories this call made, top first.

    Another runtime may remove an empty shared parent (its own failed create
    cleaning up) between our look and our mkdir: start over when that happens.
    """
    made: list[str] = []
    for _attempt in range(5):
        missing: list[str] = []
        cur = path
        while cur != mountpoint and cur.startswith(mountpoint + "/") and not os.path.isdir(cur):
            missing.append(cur)
            cur = os.path.dirname(cur)
        try:
            for d in reversed(missing):
                try:
                    os.mkdir(d, 0o755)
                    made.append(d)
                except FileExistsError:
                    continue
            return made
        except FileNotFoundError:
            continue
        except OSError as e:
            raise CgroupWriteError(f"cgroup: mkdir {path}: {e.strerror}", e.errno or 0) from None
    raise CgroupWriteError(f"cgroup: mkdir {path}: parent kept disappearing", errno.ENOENT)


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll ``check`` with a short, growing sleep; True if it held before ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, SIGKILL)
        except ProcessLookupError:
            continue


def remove_dirs(leaves: Iterable[str], created: Iterable[str]) -> None:
    """rmdir each leaf (with every child cgroup in it), then the ancestors we made.

    A cgroup can stay busy for a moment after its last process died (the
    kernel finishes the exit asynchronously): retry EBUSY briefly.
    """
    for leaf in leaves:

        def gone(leaf: str = leaf) -> bool:
            try:
                fs.rmdir_tree(leaf)
            except OSError as e:
                if e.errno == errno.EBUSY:
                    return False
                raise CgroupWriteError(
                    f"cgroup: rmdir {leaf}: {e.strerror}", e.errno or 0
                ) from None
            return True

        if not wait_until(gone, 5.0):
            raise CgroupWriteError(f"cgroup: rmdir {leaf}: still busy after 5s", errno.EBUSY)
    # Ancestors we made ourselves, deepest first, only if nothing else lives there.
    for d in sorted(set(created), key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            continue
