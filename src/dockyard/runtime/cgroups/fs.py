"""Reading and writing cgroup files, with errors that say which file and value.

cgroupfs files are small and written with one ``write(2)``: the kernel parses
each write on its own, so we never buffer or write in pieces.
"""

from __future__ import annotations

import errno
import os

from .errors import CgroupWriteError


def write(directory: str, name: str, value: str | int) -> None:
    path = os.path.join(directory, name)
    data = str(value).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupWriteError(
            f"cgroup: cannot open {path} to write {str(value)!r}: {e.strerror}", e.errno or 0
        ) from None
    try:
        os.write(fd, data)
    except OSError as e:
        raise CgroupWriteError(
            f"cgroup: writing {str(value)!r} to {path}: {e.strerror}", e.errno or 0
        ) from None
    finally:
        os.close(fd)


def read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read()


def read_int(directory: str, name: str, default: int = 0) -> int:
    """An integer file; ``max`` (v2) reads as -1, a missing file as ``default``."""
    try:
        text = read(directory, name).strip()
    except FileNotFoundError:
        return default
    if text == "max":
        return -1
    try:
        return int(text)
    except ValueError:
        return default


def read_keyed(directory: str, name: str) -> dict[str, int]:
    """A flat keyed file (``key value`` per line), e.g. memory.stat, cpu.stat."""
    out: dict[str, int] = {}
    try:
        text = read(directory, name)
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def exists(directory: str, name: str) -> bool:
    return os.path.exists(os.path.join(directory, name))


def procs(directory: str, recursive: bool = True) -> list[int]:
    """The pids in ``directory``'s cgroup.procs, and in its descendants'."""
    pids: list[int] = []
    if not os.path.isdir(directory):
        return pids
    walker = os.walk(directory) if recursive else iter([(directory, [], [])])
    for root, _dirs, _files in walker:
        try:
            with open(os.path.join(root, "cgroup.procs")) as f:
                pids.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            continue
    return pids


def rmdir_tree(directory: str) -> None:
    """Remove a cgroup directory and every child cgroup in it, deepest first.

    cgroupfs directories hold only kernel files, which ``rmdir`` takes with
    them; ``shutil.rmtree`` would try to unlink those and fail.
    """
    try:
        os.rmdir(directory)  # the usual case: no child cgroups
        return
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno not in (errno.EBUSY, errno.ENOTEMPTY):
            raise
    for root, _dirs, _files in os.walk(directory, topdown=False):
        try:
            os.rmdir(root)
        except FileNotFoundError:
            continue
