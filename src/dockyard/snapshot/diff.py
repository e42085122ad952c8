"""Layer diff: the tar of what an active snapshot changed, with whiteouts.

Two ways to find the changes, as containerd's differ:

- **overlay**: everything in the upper dir *is* the change. Walk it;
  overlay's deletion marks (a 0:0 character device) become ``.wh.<name>``
  entries and an opaque directory (``trusted.overlay.opaque=y``) is written
  followed by ``<dir>/.wh..wh..opq``.
- **double walk** (native, or any two plain directories): walk the upper
  tree and the lower tree side by side. An entry is changed when its type,
  mode, owner, size, link count, mtime, xattrs, link target or device
  differ (a new hard link to an old file changes the old file's link count,
  so both are written and the second links to the first); when the
  mtimes are equal but have no sub-second part (times that came out of a
  tar), the contents are compared too, since a second-granular mtime
  proves nothing. Names only in the lower tree become whiteouts. Parent
  directories of a change are written before it even when unchanged, so
  the tar applies onto a fresh overlay upper.

The tar is deterministic: names sorted bytewise in each directory (Go's
``filepath.Walk`` order, as Docker writes), PAX format, mtimes truncated to
seconds, no user/group names, xattrs (``security.capability`` included) as
``SCHILY.xattr.*`` records in name order, and a file linked several times is
written once and then as hard links to that first name. gzip output has a
zero mtime and no file name.

Trees are walked with directory fds and ``O_NOFOLLOW`` (a running
container could swap a directory for a symlink mid-walk; we must not read
the host through it).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal, Protocol

from dockyard.snapshot.apply import (
    OVERLAY_OPAQUE_XATTR,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
    XATTR_PAX_PREFIX,
)
from dockyard.snapshot.compression import Compressor, HashingSink
from dockyard.snapshot.errors import LayerError
from dockyard.snapshot.mount import Mount, mount_all, unmount_all

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_BUF = 1 << 20


@dataclass(frozen=True, slots=True)
class DiffResult:
    diff_id: str  # "sha256:…" of the uncompressed tar
    digest: str  # "sha256:…" of the bytes written to ``out``
    size: int  # bytes written to ``out``
    uncompressed_size: int
    compression: str  # "none" | "gzip" | "zstd"
    entries: int


# --- where the trees are --------------------------------------------------------


def _plain_dir(m: Sequence[Mount] | str | None) -> str | None:
    """The directory behind a plain form: a path, or one bind mount."""
    if m is None:
        return None
    if isinstance(m, str):
        return m
    if len(m) == 1 and (m[0].type == "bind" or "bind" in m[0].options or "rbind" in m[0].options):
        return m[0].source
    return None


def _layer_dirs(m: Sequence[Mount] | str | None) -> list[str] | None:
    """The stack of layer dirs (top first) a lower form shows, if known."""
    if m is None or (not isinstance(m, str) and len(m) == 0):
        return []
    plain = _plain_dir(m)
    if plain is not None:
        return [plain]
    if not isinstance(m, str) and len(m) == 1 and m[0].type == "overlay":
        upper = m[0].option("upperdir")
        lowers = m[0].lowerdirs()
        return [upper, *lowers] if upper else lowers
    return None


def diff(
    lower: Sequence[Mount] | str | None,
    upper: Sequence[Mount] | str,
    out: BinaryIO,
    *,
    compression: Literal["none", "gzip", "zstd"] = "gzip",
    level: int | None = None,
) -> DiffResult:
    """Write to ``out`` the layer that turns ``lower`` into ``upper``.

    Each side is a directory path, a snapshot's mounts, or (lower only)
    None for "nothing" (the tar of the whole upper tree, as ``import`` and
    ``export`` want). An overlay ``upper`` whose lower dirs are exactly
    ``lower``'s layers is read straight from its upper dir; anything else
    is compared by a double walk (mounting read-only in a private temp dir
    when a side is not a plain directory).

    Example — the layer a container added on top of its image::

        upper = sn.mounts("ctr")                    # active, parent = chain_id
        lower = sn.view("ctr-parent-view", chain_id)
        with open("layer.tar.gz", "wb") as f:
            r = diff(lower, upper, f)               # r.diff_id, r.digest, r.size
        sn.remove("ctr-parent-view")
    """
    sink = HashingSink(out)
    comp = Compressor(sink, compression, level)
    tap = _Tap(comp)
    writer = _Writer(tap)
    if not isinstance(upper, str) and len(upper) == 1 and upper[0].type == "overlay":
        up = upper[0]
        upperdir = up.option("upperdir")
        if upperdir is not None and _layer_dirs(lower) == up.lowerdirs():
            _walk_overlay_upper(upperdir, writer)
            return _finish(writer, tap, comp, sink, compression)
    with contextlib.ExitStack() as stack:
        lower_dir = None if lower is None else _as_dir(lower, stack)
        upper_dir = _as_dir(upper, stack)
        _double_walk(lower_dir, upper_dir, writer)
    return _finish(writer, tap, comp, sink, compression)


class _HasMounts(Protocol):
    def mounts(self, key: str) -> list[Mount]: ...
    def parent_mounts(self, key: str) -> list[Mount]: ...


def diff_snapshot(
    sn: _HasMounts,
    key: str,
    out: BinaryIO,
    *,
    compression: Literal["none", "gzip", "zstd"] = "gzip",
    level: int | None = None,
) -> DiffResult:
    """The layer an active snapshot adds to its parent (``docker commit``,
    a build step): ``diff(sn.parent_mounts(key), sn.mounts(key), out)``."""
    return diff(sn.parent_mounts(key), sn.mounts(key), out, compression=compression, level=level)


def _as_dir(m: Sequence[Mount] | str, stack: contextlib.ExitStack) -> str | None:
    plain = _plain_dir(m)
    if plain is not None:
        return plain
    assert not isinstance(m, str)
    if len(m) == 0:
        return None
    target = tempfile.mkdtemp(prefix="dockyard-diff-")
    stack.callback(os.rmdir, target)
    ro = [Mount(x.type, x.source, (*x.options, "ro")) for x in m]
    mount_all(ro, target)
    stack.callback(unmount_all, target)
    return target


def _finish(
    writer: _Writer, tap: _Tap, comp: Compressor, sink: HashingSink, compression: str
) -> DiffResult:
    writer.close()
    comp.finish()
    return DiffResult(
        diff_id="sha256:" + tap.sha256.hexdigest(),
        digest=sink.digest(),
        size=sink.size,
        uncompressed_size=tap.size,
        compression=compression,
        entries=writer.entries,
    )


class _Tap:
    """Hashes the uncompressed tar on its way to the compressor."""

    def __init__(self, out: Compressor) -> None:
        self._out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        self._out.write(data)
        return len(data)


# --- the tar writer -----------------------------------------------------------------


def _xattrs(dir_fd: int, name: str | None) -> dict[str, bytes]:
    """xattrs of ``name`` in ``dir_fd`` (or of the directory ``dir_fd``
    itself), minus overlay's own."""
    # No fd-relative getxattr in Python: name the entry through the
    # directory fd's /proc link (the directory is pinned; the last
    # component is not followed).
    target: int | str = dir_fd if name is None else f"/proc/self/fd/{dir_fd}/{name}"
    follow = name is None
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    out = {}
    for key in sorted(names):
        if key.startswith("trusted.overlay.") or key.startswith("user.overlay."):
            continue
        try:
            out[key] = os.getxattr(target, key, follow_symlinks=follow)
        except OSError as e:
            if e.errno != errno.ENODATA:
                raise
    return out


class _Writer:
    def __init__(self, out: _Tap) -> None:
        self.tf = tarfile.open(  # type: ignore[call-overload]
            fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 16,
            encoding="utf-8", errors="surrogateescape",
        )
        self.links: dict[tuple[int, int], str] = {}
        self.entries = 0

    def close(self) -> None:
        self.tf.close()

    def add(
        self, rel: str, st: os.stat_result, dir_fd: int, name: str,
        xattrs: dict[str, bytes], self_fd: int | None = None,
    ) -> None:
        """Write one entry; ``dir_fd``/``name`` locate it (for content and
        link targets)."""
        ti = tarfile.TarInfo(rel)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = st.st_mtime_ns // 1_000_000_000
        ti.pax_headers = {
            XATTR_PAX_PREFIX + k: v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
        }
        mode = st.st_mode
        content: int | None = None
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
        elif stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            first = self.links.get(key) if st.st_nlink > 1 else None
            if first is not None:
                ti.type = tarfile.LNKTYPE
                ti.linkname = first
            else:
                if st.st_nlink > 1:
                    self.links[key] = rel
                ti.type = tarfile.REGTYPE
                ti.size = st.st_size
                content = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        elif stat.S_ISLNK(mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(name, dir_fd=dir_fd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        else:
            return  # sockets are not carried in layers (as Docker)
        self.entries += 1
        if content is None:
            self.tf.addfile(ti)
            return
        with os.fdopen(content, "rb", buffering=0) as f:
            # A file that changed size since its stat would corrupt the tar;
            # tarfile raises on a short read, we check for growth.
            if os.fstat(f.fileno()).st_size != st.st_size:
                raise LayerError(f"{rel!r} changed while being diffed")
            self.tf.addfile(ti, f)

    def whiteout(self, rel_dir: str, name: str, st: os.stat_result | None) -> None:
        ti = tarfile.TarInfo(_join(rel_dir, WHITEOUT_PREFIX + name))
        ti.type = tarfile.REGTYPE
        ti.mode = 0
        ti.uname = ti.gname = ""
        ti.mtime = st.st_mtime_ns // 1_000_000_000 if st is not None else 0
        self.entries += 1
        self.tf.addfile(ti)

    def opaque(self, rel_dir: str, st: os.stat_result) -> None:
        ti = tarfile.TarInfo(_join(rel_dir, WHITEOUT_OPAQUE))
        ti.type = tarfile.REGTYPE
        ti.mode = 0
        ti.uname = ti.gname = ""
        ti.mtime = st.st_mtime_ns // 1_000_000_000
        self.entries += 1
        self.tf.addfile(ti)


def _join(a: str, b: str) -> str:
    return f"{a}/{b}" if a else b


def _sorted_names(fd: int) -> list[str]:
    return sorted(os.listdir(fd), key=os.fsencode)


def _open_dir(name: str, dir_fd: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise LayerError(f"{name!r} stopped being a directory while being diffed") from None
        raise


# --- overlay upper dir ----------------------------------------------------------------


def _walk_overlay_upper(upperdir: str, w: _Writer) -> None:
    root = os.open(upperdir, _DIR_FLAGS)
    try:
        _overlay_dir(root, "", w)
    finally:
        os.close(root)


def _overlay_dir(fd: int, rel: str, w: _Writer) -> None:
    for name in _sorted_names(fd):
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            w.whiteout(rel, name, st)
            continue
        child = _join(rel, name)
        if stat.S_ISDIR(st.st_mode):
            sub = _open_dir(name, fd)
            try:
                _check_no_redirect(sub, child)
                w.add(child, st, fd, name, _xattrs(sub, None))
                if _is_opaque(sub):
                    w.opaque(child, st)
                _overlay_dir(sub, child, w)
            finally:
                os.close(sub)
        else:
            xattrs = _xattrs(fd, name)
            if stat.S_ISREG(st.st_mode):
                _check_no_metacopy(fd, name, child)
            w.add(child, st, fd, name, xattrs)


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OVERLAY_OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def _check_no_redirect(fd: int, rel: str) -> None:
    # With redirect_dir=on a renamed lower directory is a pointer, not a
    # copy: its tar would be wrong. Our mounts never turn it on; refuse
    # loudly if a host default did.
    try:
        os.getxattr(fd, "trusted.overlay.redirect")
    except OSError:
        return
    raise LayerError(f"cannot diff {rel!r}: overlay redirect_dir is in use on this upper dir")


def _check_no_metacopy(fd: int, name: str, rel: str) -> None:
    try:
        os.getxattr(f"/proc/self/fd/{fd}/{name}", "trusted.overlay.metacopy",
                    follow_symlinks=False)
    except OSError:
        return
    raise LayerError(f"cannot diff {rel!r}: overlay metacopy is in use on this upper dir")


# --- double walk ------------------------------------------------------------------------


class _Pending:
    """Ancestors not yet written: written only when something below them is."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, os.stat_result, dict[str, bytes], bool]] = []

    def flush(self, w: _Writer, fds: list[tuple[int, str]]) -> None:
        for i, (rel, st, xattrs, done) in enumerate(self.stack):
            if not done:
                pfd, name = fds[i]
                w.add(rel, st, pfd, name, xattrs)
                self.stack[i] = (rel, st, xattrs, True)


def _double_walk(lower: str | None, upper: str | None, w: _Writer) -> None:
    if upper is None:
        raise LayerError("diff needs an upper tree")
    ufd = os.open(upper, _DIR_FLAGS)
    lfd = os.open(lower, _DIR_FLAGS) if lower is not None else None
    try:
        _pair_dir(lfd, ufd, "", w, _Pending(), [])
    finally:
        os.close(ufd)
        if lfd is not None:
            os.close(lfd)


def _pair_dir(
    lfd: int | None, ufd: int, rel: str, w: _Writer, pending: _Pending,
    fds: list[tuple[int, str]],
) -> None:
    unames = _sorted_names(ufd)
    lnames = set(os.listdir(lfd)) if lfd is not None else set()
    names = sorted(set(unames) | lnames, key=os.fsencode)
    uset = set(unames)
    for name in names:
        child = _join(rel, name)
        if name not in uset:
            pending.flush(w, fds)
            lst = os.stat(name, dir_fd=lfd, follow_symlinks=False) if lfd is not None else None
            w.whiteout(rel, name, lst)
            continue
        ust = os.stat(name, dir_fd=ufd, follow_symlinks=False)
        lst = None
        if lfd is not None and name in lnames:
            lst = os.stat(name, dir_fd=lfd, follow_symlinks=False)
        if stat.S_ISDIR(ust.st_mode):
            sub = _open_dir(name, ufd)
            try:
                uxa = _xattrs(sub, None)
                lsub = None
                if lst is not None and stat.S_ISDIR(lst.st_mode):
                    lsub = _open_dir(name, lfd)  # type: ignore[arg-type]
                try:
                    lxa = _xattrs(lsub, None) if lsub is not None else None
                    changed = lsub is None or _meta_differs(lst, ust) or lxa != uxa
                    pending.stack.append((child, ust, uxa, False))
                    fds.append((ufd, name))
                    if changed:
                        pending.flush(w, fds)
                    _pair_dir(lsub, sub, child, w, pending, fds)
                    pending.stack.pop()
                    fds.pop()
                finally:
                    if lsub is not None:
                        os.close(lsub)
            finally:
                os.close(sub)
            continue
        uxa = _xattrs(ufd, name)
        if lst is not None and not _entry_differs(lfd, ufd, name, lst, ust, uxa):  # type: ignore[arg-type]
            continue
        pending.flush(w, fds)
        w.add(child, ust, ufd, name, uxa)


def _meta_differs(a: os.stat_result | None, b: os.stat_result) -> bool:
    if a is None:
        return True
    return (
        stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode)
        or a.st_mode != b.st_mode
        or a.st_uid != b.st_uid
        or a.st_gid != b.st_gid
        or a.st_mtime_ns // 1_000_000_000 != b.st_mtime_ns // 1_000_000_000
        or (a.st_mtime_ns != b.st_mtime_ns and a.st_mtime_ns % 1_000_000_000 != 0
            and b.st_mtime_ns % 1_000_000_000 != 0)
    )


def _entry_differs(
    lfd: int, ufd: int, name: str, lst: os.stat_result, ust: os.stat_result,
    uxa: dict[str, bytes],
) -> bool:
    if _meta_differs(lst, ust):
        return True
    mode = ust.st_mode
    if stat.S_ISREG(mode):
        # A link count that moved means a hard link to this file was made
        # or dropped: write it, so its new partner can link to it.
        if lst.st_size != ust.st_size or lst.st_nlink != ust.st_nlink:
            return True
    elif stat.S_ISLNK(mode):
        if os.readlink(name, dir_fd=lfd) != os.readlink(name, dir_fd=ufd):
            return True
    elif (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and lst.st_rdev != ust.st_rdev:
        return True
    if _xattrs(lfd, name) != uxa:
        return True
    if stat.S_ISREG(mode) and (
        ust.st_mtime_ns % 1_000_000_000 == 0 or lst.st_mtime_ns != ust.st_mtime_ns
    ):
        # Equal to the second but no finer: the contents decide.
        return not _same_content(lfd, ufd, name)
    return False


def _same_content(lfd: int, ufd: int, name: str) -> bool:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    a = os.open(name, flags, dir_fd=lfd)
    try:
        b = os.open(name, flags, dir_fd=ufd)
        try:
            if os.fstat(a).st_ino == os.fstat(b).st_ino and os.fstat(a).st_dev == os.fstat(b).st_dev:
                return True
            while True:
                x = os.read(a, _BUF)
                y = os.read(b, _BUF)
                if x != y:
                    return False
                if not x:
                    return True
        finally:
            os.close(b)
    finally:
        os.close(a)

