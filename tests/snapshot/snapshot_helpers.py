"""Helpers for the snapshot tests (imported by conftest and the tests).

- ``make_tar``: build a layer tar from a list of ``Entry``; ``ROOTFS``: one
  entry of every kind (setuid, capability, devices, hard link, fifo…).
- ``tree_state``: a comparable description of a tree (types, modes,
  owners, sizes, contents, link targets, devices, xattrs, file mtimes).
- ``mountinfo_under``: mount points under a directory (leak checks).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from dockyard.snapshot import Mount, mount_all, unmount_all

MountFn = Callable[[Sequence[Mount]], str]


def mountinfo_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix.rstrip("/") + "/")]


@contextmanager
def mount_at(mounts: Sequence[Mount], target: str) -> Iterator[str]:
    os.makedirs(target, exist_ok=True)
    mount_all(mounts, target)
    try:
        yield target
    finally:
        unmount_all(target)


@dataclass
class Entry:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    linkname: str = ""
    mtime: int = 1_700_000_000
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def make_tar(entries: Sequence[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.type = e.type
            ti.mode = e.mode
            ti.uid, ti.gid = e.uid, e.gid
            ti.linkname = e.linkname
            ti.mtime = e.mtime
            ti.devmajor, ti.devminor = e.devmajor, e.devminor
            ti.pax_headers = {
                "SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                for k, v in e.xattrs.items()
            }
            if e.type == tarfile.REGTYPE:
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def _xattrs(path: str) -> dict[str, bytes]:
    out = {}
    for k in sorted(os.listxattr(path, follow_symlinks=False)):
        if k.startswith("trusted.overlay."):
            continue
        out[k] = os.getxattr(path, k, follow_symlinks=False)
    return out


def tree_state(root: str, *, dir_mtimes: bool = False) -> dict[str, tuple[object, ...]]:
    """path -> (type, mode, uid, gid, payload, xattrs, mtime_s) for every entry.
    Hard links show as the same ``ino`` group number."""
    state: dict[str, tuple[object, ...]] = {}
    groups: dict[tuple[int, int], int] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            payload: object = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    payload = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    payload = (payload, groups.setdefault((st.st_dev, st.st_ino), len(groups)))
            elif stat.S_ISLNK(st.st_mode):
                payload = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                payload = (os.major(st.st_rdev), os.minor(st.st_rdev))
            mtime = None if stat.S_ISDIR(st.st_mode) and not dir_mtimes else int(st.st_mtime)
            if stat.S_ISLNK(st.st_mode):
                mtime = None  # a symlink's mtime is whatever creating it gave
            state[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, payload,
                          _xattrs(p), mtime)
    return state


# A file capability as setcap writes it: cap_net_bind_service+ep (VFS v2).
CAP_NET_BIND = bytes.fromhex("0000000200040000000000000000000000000000")

ROOTFS = [
    Entry("bin", type=tarfile.DIRTYPE, mode=0o755),
    Entry("bin/busybox", data=b"\x7fELF" + b"b" * 5000, mode=0o755, mtime=1_600_000_000),
    Entry("bin/sh", type=tarfile.SYMTYPE, linkname="/bin/busybox"),
    Entry("bin/ls", type=tarfile.LNKTYPE, linkname="bin/busybox"),
    Entry("bin/ping", data=b"ping", mode=0o4755, xattrs={"security.capability": CAP_NET_BIND}),
    Entry("dev", type=tarfile.DIRTYPE, mode=0o755),
    Entry("dev/null", type=tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
    Entry("dev/sda", type=tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0, gid=6),
    Entry("run", type=tarfile.DIRTYPE, mode=0o755),
    Entry("run/fifo", type=tarfile.FIFOTYPE, mode=0o600),
    Entry("home/user", type=tarfile.DIRTYPE, mode=0o700, uid=1000, gid=1000,
          mtime=1_500_000_000),
    Entry("home/user/.profile", data=b"export A=1\n", mode=0o600, uid=1000, gid=1000,
          xattrs={"user.note": b"\xff\x00binary"}),
    Entry("tmp", type=tarfile.DIRTYPE, mode=0o1777),
    Entry("ünïcode-名前", data=b"u"),
]
