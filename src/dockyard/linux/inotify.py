"""inotify(7) through ctypes, and a recursive watcher of directory trees.

``Inotify`` is the bare kernel interface: ``inotify_init1``,
``inotify_add_watch``, ``inotify_rm_watch`` and the event records read from
the descriptor (``struct inotify_event``: wd, mask, cookie, len, name).

``TreeWatcher`` watches whole trees, which inotify itself does not: every
directory gets its own watch, and a directory that appears later is watched
as soon as its creation is read. Files written into a new directory before
its watch exists raise no event, so the watcher reports the new directory
itself and the caller treats a changed directory as "everything below it"
(compose's sync sends it whole). A single file is watched through its
parent directory, since editors replace files by rename and a watch on the
old inode would go quiet. A queue overflow (``IN_Q_OVERFLOW``: events were
lost) reports every root, so a caller that resyncs what it is told about
misses nothing.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
from collections.abc import Iterable
from dataclasses import dataclass

_libc = ctypes.CDLL(None, use_errno=True)

# linux/inotify.h
IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_OPEN = 0x00000020
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# what changes a tree's content: writes, metadata, entries coming and going
CHANGES = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
           | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


@dataclass(frozen=True)
class Event:
    wd: int
    mask: int
    cookie: int
    name: str  # the entry in the watched directory; "" for the directory itself


class Inotify:
    """One inotify instance (non-blocking, close-on-exec); ``read(timeout)`` waits."""

    def __init__(self) -> None:
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_init1: {os.strerror(e)}")
        self.fd: int = fd

    def add_watch(self, path: str, mask: int) -> int:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask))
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_add_watch({path!r}): {os.strerror(e)}", path)
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        # EINVAL: the kernel already dropped it (its directory is gone)
        if _libc.inotify_rm_watch(self.fd, wd) < 0 and ctypes.get_errno() != errno.EINVAL:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_rm_watch({wd}): {os.strerror(e)}")

    def read(self, timeout: float | None) -> list[Event]:
        """The events queued now, waiting up to ``timeout`` seconds (None: forever) for one."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return []
        events = []
        off = 0
        while off + _HEADER.size <= len(data):
            wd, mask, cookie, length = _HEADER.unpack_from(data, off)
            off += _HEADER.size
            raw = data[off:off + length].split(b"\0", 1)[0]
            off += length
            events.append(Event(wd, mask, cookie, os.fsdecode(raw)))
        return events

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TreeWatcher:
    """Watch ``roots`` (directories recursively, files through their parent);
    ``changes(timeout)`` returns the absolute paths that changed."""

    def __init__(self, roots: Iterable[str]) -> None:
        self.roots = sorted({os.path.abspath(r) for r in roots})
        self._ino = Inotify()
        self._dirs: dict[int, str] = {}  # wd → directory
        self._files: dict[str, set[str]] = {}  # directory → the single files watched in it
        try:
            for root in self.roots:
                if os.path.isdir(root) and not os.path.islink(root):
                    self._add_tree(root)
                else:
                    parent, name = os.path.split(root)
                    self._files.setdefault(parent, set()).add(name)
                    self._add_dir(parent)
        except BaseException:
            self.close()
            raise

    def _add_dir(self, path: str) -> None:
        try:
            wd = self._ino.add_watch(path, CHANGES | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                return  # gone again before we got to it: its deletion event follows
            raise
        self._dirs[wd] = path

    def _add_tree(self, top: str) -> None:
        self._add_dir(top)
        for root, dirs, _ in os.walk(top):
            for d in dirs:
                p = os.path.join(root, d)
                if not os.path.islink(p):
                    self._add_dir(p)

    def _watched(self, path: str) -> bool:
        parent, name = os.path.split(path)
        if name in self._files.get(parent, ()):
            return True
        return any(path == r or path.startswith(r + os.sep) for r in self.roots
                   if r not in self._files.get(os.path.dirname(r), ()))

    def changes(self, timeout: float | None) -> list[str]:
        out: dict[str, None] = {}
        for ev in self._ino.read(timeout):
            if ev.mask & IN_Q_OVERFLOW:
                out.update(dict.fromkeys(self.roots))
                continue
            base = self._dirs.get(ev.wd)
            if base is None:
                continue
            if ev.mask & IN_IGNORED:
                del self._dirs[ev.wd]
                continue
            path = os.path.join(base, ev.name) if ev.name else base
            if ev.mask & IN_ISDIR and ev.mask & (IN_CREATE | IN_MOVED_TO) and self._watched(path):
                self._add_tree(path)
            if self._watched(path):
                out[path] = None
        return list(out)

    def close(self) -> None:
        self._ino.close()

    def __enter__(self) -> TreeWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
