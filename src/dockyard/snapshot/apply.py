"""Layer apply: unpack one layer tar into a directory, safely.

The stream is read once, front to back (a layer may come straight off the
network or out of ``docker load``): tarfile parses the headers in its
seekable mode over ``_TarStream``, a forward-only file over 1 MiB chunks
that file contents are written from directly. Two hashes are taken on the
way: the digest of the bytes as read (the blob digest when the layer is
compressed; skipped when it is known: a plain tar's is its diff ID, and a
stored blob's was verified when written) and the sha256 of the
uncompressed tar (the *diff ID* an image config lists).

Safety (LIBRARIES.md trap 6: tarfile's own ``extract`` applies no xattrs
and its ``data`` filter refuses device nodes and absolute symlinks, both
normal in a root filesystem, so extraction is ours):

- every entry name is relative, with no ``..`` (refused otherwise: the
  error names the entry);
- every path is walked one component at a time with ``openat(O_NOFOLLOW |
  O_DIRECTORY)`` from a directory fd of the destination: a symlink met on
  the way is refused, never followed, so ``link -> /etc`` then
  ``link/passwd`` fails and nothing outside the root is touched. Files are
  created with ``O_EXCL | O_NOFOLLOW`` after removing what was there.
  Symlinks themselves may point anywhere (``/bin/sh -> busybox``): they are
  created, never followed while extracting;
- hard links must point at a file this same layer created earlier (that is
  all a layer's tar can carry; Docker writes nothing else);
- whiteouts name one plain component (``.wh..`` is refused);
- ``Limits`` bound the uncompressed bytes and the entry count (bombs).

Whiteouts: ``.wh.<name>`` deletes ``<name>`` from the layers below and
``.wh..wh..opq`` makes a directory opaque (hides everything below it).
Applied onto a plain directory (native snapshotter) they become real
deletions; applied onto an overlay upper dir they become overlay's own
marks — a 0:0 character device and the ``trusted.overlay.opaque=y`` xattr.
On an overlay upper dir, a parent directory that exists only in a lower
layer is created in the upper with the lower's owner and mode, as a
copy-up would.

Order of metadata: chown before chmod (chown clears setuid bits) and before
xattrs (chown clears ``security.capability``); directory mtimes last, since
creating entries inside a directory changes its mtime.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal

from dockyard.snapshot import Limits
from dockyard.snapshot.compression import (
    Compression,
    Decompressed,
    HashingSource,
    Readable,
    detect,
)
from dockyard.snapshot.errors import (
    CorruptLayerError,
    LayerError,
    LayerTooLargeError,
    UnsafeEntryError,
    UnsupportedLayerError,
)
from dockyard.snapshot.mount import Mount

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX_PREFIX = "SCHILY.xattr."

_BUF = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class ApplyResult:
    diff_id: str  # "sha256:…" of the uncompressed tar
    size: int  # uncompressed tar bytes
    digest: str  # "sha256:…" of the stream as read (the compressed blob)
    compressed_size: int
    compression: Compression
    entries: int


def compression_of(media_type: str | None) -> Compression | None:
    """``None`` (detect from magic bytes) for no media type; the compression
    a media type names; or a bare "gzip"/"zstd"/"none"."""
    if media_type is None or media_type == "":
        return None
    if media_type in ("none", "gzip", "zstd", "bzip2", "xz"):
        return media_type  # type: ignore[return-value]
    from dockyard.oci import mediatypes
    from dockyard.oci.errors import UnknownMediaTypeError

    try:
        return mediatypes.layer_compression(media_type)
    except UnknownMediaTypeError as e:
        raise UnsupportedLayerError(str(e)) from None


class _TarStream:
    """The uncompressed tar as tarfile reads it, in its seekable mode: a
    forward-only file over 1 MiB chunks of the decompressed stream. Each
    chunk is hashed (the diff ID), counted and bounded once, when it is
    pulled; reads are slices of it, and file contents go from it straight
    to their files (``copy_to``). Seeks go forward (skipped bytes are still
    pulled, so hashed) or back into the previous chunk (tarfile looks at
    the byte before each header to detect a truncated member)."""

    def __init__(self, inner: Readable, limits: Limits) -> None:
        import hashlib

        self._inner = inner
        self._max = limits.max_bytes
        self.sha256 = hashlib.sha256()
        self.size = 0  # bytes pulled so far
        self._buf = b""  # the current chunk, at stream offset _start
        self._start = 0
        self._prev = b""  # the chunk before it, at _prev_start
        self._prev_start = 0
        self._pos = 0

    def _pull(self) -> bool:
        data = self._inner.read(_BUF)
        if not data:
            return False
        self.size += len(data)
        if self.size > self._max:
            raise LayerTooLargeError(
                f"layer is larger than the limit of {self._max} uncompressed bytes "
                f"(a decompression bomb?); raise Limits.max_bytes to accept it"
            )
        self.sha256.update(data)
        self._prev, self._prev_start = self._buf, self._start
        self._start += len(self._buf)
        self._buf = data
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self._pos
        elif whence != 0:
            raise OSError(errno.ESPIPE, "a layer stream cannot seek from its end")
        if pos < self._prev_start:
            raise OSError(errno.ESPIPE, f"a layer stream cannot seek back to {pos}")
        self._pos = pos
        return pos

    def _piece(self, n: int) -> bytes | memoryview | None:
        """Up to ``n`` bytes at the position, from one chunk (None at the end)."""
        while self._pos >= self._start + len(self._buf):
            if not self._pull():
                return None
        if self._pos < self._start:
            i = self._pos - self._prev_start
            return memoryview(self._prev)[i : min(i + n, len(self._prev))]
        i = self._pos - self._start
        if i == 0 and n >= len(self._buf):
            return self._buf
        return memoryview(self._buf)[i : i + n]

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = 1 << 62
        parts = []
        while n > 0:
            piece = self._piece(n)
            if piece is None:
                break
            parts.append(piece)
            self._pos += len(piece)
            n -= len(piece)
        if len(parts) == 1 and isinstance(parts[0], bytes):
            return parts[0]
        return b"".join(parts)

    def copy_to(self, fd: int, n: int) -> int:
        """Write the next ``n`` bytes to ``fd``; returns how many there were."""
        done = 0
        while done < n:
            piece = self._piece(n - done)
            if piece is None:
                break
            _write_all(fd, piece)
            self._pos += len(piece)
            done += len(piece)
        return done

    def block_at(self, offset: int) -> bytes | None:
        """The 512 bytes at ``offset`` (fewer at the end of the stream; None
        if long gone)."""
        if offset < self._prev_start:
            return None
        self.seek(offset)
        return self.read(tarfile.BLOCKSIZE)

    def drain(self) -> None:
        while self._pull():
            pass


def apply_layer(
    stream: BinaryIO | Readable,
    dest: str,
    *,
    media_type: str | None = None,
    whiteouts: Literal["delete", "overlay"] = "delete",
    lowers: Sequence[str] = (),
    limits: Limits = Limits(),
    digest: str | None = None,
) -> ApplyResult:
    """Unpack the layer read from ``stream`` into the directory ``dest``.

    ``media_type``: a layer media type, "gzip"/"zstd"/"none", or None to
    detect the compression from the first bytes. ``whiteouts``: "delete"
    for a plain directory holding the layers below (native), "overlay" for
    an overlay upper dir whose lower dirs (top first) are ``lowers``.
    ``digest``: the stream's digest when the caller knows it already (a
    blob the content store verified); it is not computed again, and is
    what the result reports.

    Raises UnsafeEntryError (naming the entry) for an entry that would
    escape ``dest`` or write through a link, CorruptLayerError for a
    truncated or corrupt stream, LayerTooLargeError past ``limits``.
    What was unpacked before an error stays; callers unpack into a fresh
    active snapshot and remove it on error.
    """
    if whiteouts not in ("delete", "overlay"):
        raise ValueError(f"whiteouts must be 'delete' or 'overlay', not {whiteouts!r}")
    source = HashingSource(stream)
    compression = compression_of(media_type)
    if compression is None:
        compression = detect(source.peek(6))
    if compression == "none" or digest is not None:
        # One hash is enough: a plain tar's digest is its diff ID, and a
        # caller passing ``digest`` has verified it (the content store does).
        source.hashing = False
    tar = _TarStream(Decompressed(source, compression), limits)
    ex = _Extractor(dest, whiteouts, list(lowers), limits)
    try:
        entries = ex.run(tar)
    finally:
        ex.close()
    tar.drain()
    while source.read(_BUF):  # the compressed digest covers every byte
        pass
    diff_id = "sha256:" + tar.sha256.hexdigest()
    if digest is None:
        digest = diff_id if compression == "none" else source.digest()
    return ApplyResult(
        diff_id=diff_id,
        size=tar.size,
        digest=digest,
        compressed_size=source.size,
        compression=compression,
        entries=entries,
    )


def apply_layer_to_mounts(
    stream: BinaryIO | Readable,
    mounts: Sequence[Mount],
    *,
    media_type: str | None = None,
    limits: Limits = Limits(),
    digest: str | None = None,
) -> ApplyResult:
    """Apply a layer to an active snapshot given by its mounts, without
    mounting: an overlay mount is written through its upper dir (overlay
    whiteouts, parents looked up in its lower dirs), a bind mount straight
    into its source (real deletions). containerd's applier does the same."""
    if len(mounts) != 1:
        raise LayerError(f"cannot apply a layer onto {len(mounts)} mounts (expected one)")
    m = mounts[0]
    if "ro" in m.options:
        raise LayerError(f"cannot apply a layer onto a read-only mount of {m.source!r}")
    if m.type == "overlay":
        upper = m.option("upperdir")
        if upper is None:
            raise LayerError("cannot apply a layer onto an overlay mount with no upperdir")
        return apply_layer(stream, upper, media_type=media_type, whiteouts="overlay",
                           lowers=m.lowerdirs(), limits=limits, digest=digest)
    if m.type == "bind" or "bind" in m.options or "rbind" in m.options:
        return apply_layer(stream, m.source, media_type=media_type, whiteouts="delete",
                           limits=limits, digest=digest)
    raise LayerError(f"cannot apply a layer onto a {m.type!r} mount")


def _clean(name: str, entry: str, what: str = "path") -> list[str]:
    """The components of a tar path, refusing absolute paths and ``..``."""
    if "\x00" in name:
        raise UnsafeEntryError(entry, f"{what} contains a NUL byte")
    if name.startswith("/"):
        raise UnsafeEntryError(entry, f"absolute {what} {name!r}; layer paths are relative")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeEntryError(entry, f"{what} {name!r} contains '..'")
    return parts


def _pax_ns(member: tarfile.TarInfo, key: str) -> int | None:
    """A PAX time (decimal seconds) as exact nanoseconds."""
    raw = member.pax_headers.get(key)
    if raw is None:
        return None
    try:
        whole, _, frac = raw.partition(".")
        neg = whole.startswith("-")
        ns = abs(int(whole)) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)
        return -ns if neg else ns
    except ValueError:
        return None


def _xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    out = []
    for key, value in member.pax_headers.items():
        if key.startswith(XATTR_PAX_PREFIX):
            name = key[len(XATTR_PAX_PREFIX):]
            # overlay's own xattrs in a layer could redirect lookups or fake
            # opaque dirs on the overlay upper; a portable layer never
            # carries them (whiteouts are .wh. entries).
            if name.startswith("trusted.overlay.") or name.startswith("user.overlay."):
                continue
            out.append((name, value.encode("utf-8", "surrogateescape")))
    return out


def _is_overlay_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


class _Extractor:
    def __init__(
        self, dest: str, whiteouts: str, lowers: list[str], limits: Limits
    ) -> None:
        self.root = os.open(dest, _DIR_FLAGS)
        self.overlay = whiteouts == "overlay"
        self.lowers = lowers
        self.limits = limits
        self.fds: dict[str, int] = {}  # rel dir path -> open fd (a cache)
        # fds dropped from the cache are closed only between entries: an fd
        # in the middle of use must not be closed (and its number reused).
        self.stale: list[int] = []
        self.written: set[str] = set()  # rel paths this layer created
        self.dir_times: list[tuple[str, int, int]] = []
        self.entry = ""  # the tar name being applied, for errors
        self._last_lower_path = ""

    def close(self) -> None:
        self._drop_cache()
        self._release()
        os.close(self.root)

    def _drop_cache(self) -> None:
        self.stale.extend(self.fds.values())
        self.fds.clear()

    def _release(self) -> None:
        for fd in self.stale:
            os.close(fd)
        self.stale.clear()

    # --- the loop -------------------------------------------------------------

    def run(self, tar: _TarStream) -> int:
        try:
            tf = tarfile.open(fileobj=tar, mode="r:",  # type: ignore[call-overload]
                              encoding="utf-8", errors="surrogateescape")
        except tarfile.ReadError as e:
            if tar.size == 0:
                return 0  # an empty stream is an empty layer, as in Go's archive/tar
            raise CorruptLayerError(f"layer is not a valid tar: {e}") from None
        count = 0
        try:
            while True:
                try:
                    member = tf.next()
                except tarfile.TarError as e:
                    raise CorruptLayerError(
                        f"layer tar is corrupt or truncated after entry {self.entry!r}: {e}"
                    ) from None
                if member is None:
                    break
                count += 1
                if count > self.limits.max_entries:
                    raise LayerTooLargeError(
                        f"layer has more than {self.limits.max_entries} entries "
                        f"(a decompression bomb?); raise Limits.max_entries to accept it"
                    )
                self.entry = member.name
                self._release()
                try:
                    self._apply(tf, member)
                except OSError as e:
                    # ENOSPC, EPERM on a read-only dir, ENAMETOOLONG…: say which entry.
                    raise LayerError(f"layer entry {member.name!r}: {e}") from e
                if count % 1024 == 0:
                    tf.members.clear()  # tarfile keeps every TarInfo otherwise
            end = tf.offset
        finally:
            self._set_dir_times()
        block = tar.block_at(end)
        if block is not None and (len(block) < tarfile.BLOCKSIZE or block.count(0) != len(block)):
            what = "truncated" if len(block) < tarfile.BLOCKSIZE else "corrupt"
            raise CorruptLayerError(
                f"layer tar is {what} at offset {end} (after entry {self.entry!r}): "
                f"no valid header and no end-of-archive marker"
            )
        return count

    def _apply(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = _clean(m.name, m.name)
        if not parts:
            if m.isdir():
                self._set_meta_fd(self.root, m, "", times=False)
                self.dir_times.append(("", *self._times(m)))
                return
            raise UnsafeEntryError(m.name, "a non-directory entry for the root itself")
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parts)
            return
        rel = "/".join(parts)
        pfd = self._dir(parts[:-1], create=True)
        assert pfd is not None
        # Create first and look only when the name is taken (EEXIST): an
        # unpack into a fresh snapshot rarely meets anything, and the lstat
        # per entry is a syscall of every small file's cost.
        try:
            self._create(tf, m, pfd, base, rel, None)
        except FileExistsError:
            existing = self._lstat(base, pfd)
            if existing is not None and not (m.isdir() and stat.S_ISDIR(existing.st_mode)):
                self._remove(pfd, base, existing, rel)
            self._create(tf, m, pfd, base, rel, existing)
        self.written.add(rel)

    def _create(self, tf: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str, rel: str,
                existing: os.stat_result | None) -> None:
        """Make the entry; ``existing``: what was there (and, unless a
        directory kept for a directory entry, has been removed)."""
        if m.isreg():
            self._file(tf, m, pfd, base)
        elif m.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(base, 0o700, dir_fd=pfd)
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                _drop_other_xattrs(fd, {name for name, _ in _xattrs(m)})
            if self.overlay and existing is not None and _is_overlay_whiteout(existing):
                # Whited out earlier in this layer, now a directory again: a
                # fresh one, so nothing of the lower layers' may show through.
                os.setxattr(fd, OVERLAY_OPAQUE_XATTR, b"y")
            self._cache(rel, fd)
            self._set_meta_fd(fd, m, rel, times=False)
            self.dir_times.append((rel, *self._times(m)))
        elif m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            self._set_meta_path(pfd, base, m, symlink=True)
        elif m.islnk():
            self._hardlink(m, pfd, base)
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(base, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
            self._set_meta_path(pfd, base, m)
        elif m.isfifo():
            os.mkfifo(base, 0o600, dir_fd=pfd)
            self._set_meta_path(pfd, base, m)
        else:
            raise LayerError(f"layer entry {m.name!r}: unsupported tar entry type {m.type!r}")

    # --- entries ----------------------------------------------------------------

    def _file(self, tf: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            if m.size and m.sparse is None:
                stream: _TarStream = tf.fileobj  # type: ignore[assignment]
                stream.seek(m.offset_data)
                if stream.copy_to(fd, m.size) != m.size:
                    raise CorruptLayerError(f"layer tar is truncated inside entry {m.name!r}")
            elif m.size:
                self._sparse(tf, m, fd)
            self._set_meta_fd(fd, m, "")
        finally:
            os.close(fd)

    def _sparse(self, tf: tarfile.TarFile, m: tarfile.TarInfo, fd: int) -> None:
        """A GNU sparse file: tarfile maps its holes."""
        src = tf.extractfile(m)
        assert src is not None
        left = m.size
        try:
            while left > 0:
                chunk = src.read(min(_BUF, left))
                if not chunk:
                    raise CorruptLayerError(f"layer tar is truncated inside entry {m.name!r}")
                _write_all(fd, chunk)
                left -= len(chunk)
        except tarfile.ReadError as e:
            raise CorruptLayerError(
                f"layer tar is truncated inside entry {m.name!r}: {e}"
            ) from None

    def _hardlink(self, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        target = _clean(m.linkname, m.name, "hardlink target")
        rel = "/".join(target)
        if not target or rel not in self.written:
            raise UnsafeEntryError(
                m.name, f"hardlink target {m.linkname!r} is not a file earlier in this layer"
            )
        tpfd = self._dir(target[:-1], create=False)
        st = self._lstat(target[-1], tpfd) if tpfd is not None else None
        if tpfd is None or st is None or stat.S_ISDIR(st.st_mode):
            raise UnsafeEntryError(m.name, f"hardlink target {m.linkname!r} is not a file")
        os.link(target[-1], base, src_dir_fd=tpfd, dst_dir_fd=pfd, follow_symlinks=False)

    def _whiteout(self, parts: list[str]) -> None:
        base = parts[-1]
        if base == WHITEOUT_OPAQUE:
            self._opaque(parts[:-1])
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to do
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise UnsafeEntryError(self.entry, f"whiteout of {name!r} is not a plain name")
        pfd = self._dir(parts[:-1], create=self.overlay)
        if pfd is None:
            return  # the parent is not there: nothing to delete
        rel = "/".join([*parts[:-1], name])
        existing = self._lstat(name, pfd)
        if existing is not None:
            self._remove(pfd, name, existing, rel)
        if self.overlay:
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=pfd)

    def _opaque(self, dir_parts: list[str]) -> None:
        fd = self._dir(dir_parts, create=self.overlay)
        if fd is None:
            return
        prefix = "/".join(dir_parts)
        self._clear_unwritten(fd, prefix)
        if self.overlay:
            os.setxattr(fd, OVERLAY_OPAQUE_XATTR, b"y")

    def _clear_unwritten(self, fd: int, prefix: str) -> None:
        """Remove what is in the directory but was not written by this layer
        (the opaque mark may come after entries of the same directory)."""
        for name in os.listdir(fd):
            rel = f"{prefix}/{name}" if prefix else name
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if rel not in self.written:
                self._remove(fd, name, st, rel)
            elif stat.S_ISDIR(st.st_mode):
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                try:
                    self._clear_unwritten(sub, rel)
                finally:
                    os.close(sub)

    # --- paths ------------------------------------------------------------------

    def _lstat(self, name: str, dir_fd: int) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def _remove(self, pfd: int, name: str, st: os.stat_result, rel: str) -> None:
        if stat.S_ISDIR(st.st_mode):
            # Cached fds under the tree going away would point at deleted
            # directories (the parent's own fd, ``pfd``, stays valid).
            for key in [k for k in self.fds if k == rel or k.startswith(rel + "/")]:
                self.stale.append(self.fds.pop(key))
            shutil.rmtree(name, dir_fd=pfd)
            self.written = {p for p in self.written if not p.startswith(rel + "/")}
        else:
            os.unlink(name, dir_fd=pfd)

    def _cache(self, rel: str, fd: int) -> None:
        if len(self.fds) >= 256:
            self._drop_cache()
        old = self.fds.pop(rel, None)
        if old is not None:
            self.stale.append(old)
        self.fds[rel] = fd

    def _dir(self, parts: list[str], *, create: bool) -> int | None:
        """An fd of the directory ``parts`` under the root, walked without
        following any symlink; missing directories are made when ``create``
        (None is returned for a missing one otherwise)."""
        fd = self.root
        for i, comp in enumerate(parts):
            rel = "/".join(parts[: i + 1])
            cached = self.fds.get(rel)
            if cached is not None:
                fd = cached
                continue
            try:
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None
                self._mkdir_parent(fd, comp, parts[: i + 1])
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    raise UnsafeEntryError(
                        self.entry, f"path component {rel!r} is a symlink; "
                        f"a layer may not write through links"
                    ) from None
                if self.overlay and _is_overlay_whiteout(st) and create:
                    # Deleted earlier in this layer and now a directory
                    # again: a fresh, opaque one.
                    os.unlink(comp, dir_fd=fd)
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                    os.setxattr(nfd, OVERLAY_OPAQUE_XATTR, b"y")
                else:
                    raise LayerError(
                        f"layer entry {self.entry!r}: parent {rel!r} is not a directory"
                    ) from None
            self._cache(rel, nfd)
            fd = nfd
        return fd

    def _mkdir_parent(self, pfd: int, comp: str, parts: list[str]) -> None:
        """Create a directory the tar did not list (it exists in a lower layer,
        or the tar omits parents). On an overlay upper it takes the lower's
        owner, mode and times, as overlay's copy-up would."""
        lower = self._lower_lookup(parts) if self.overlay else None
        if lower is not None and not stat.S_ISDIR(lower.st_mode):
            rel = "/".join(parts)
            if stat.S_ISLNK(lower.st_mode):
                raise UnsafeEntryError(
                    self.entry, f"path component {rel!r} is a symlink in a lower layer; "
                    f"a layer may not write through links"
                )
            raise LayerError(
                f"layer entry {self.entry!r}: parent {rel!r} is not a directory in a lower layer"
            )
        os.mkdir(comp, 0o755, dir_fd=pfd)
        if lower is not None:
            lower_path = self._lower_path(parts)
            os.chown(comp, lower.st_uid, lower.st_gid, dir_fd=pfd, follow_symlinks=False)
            os.chmod(comp, stat.S_IMODE(lower.st_mode), dir_fd=pfd)
            if lower_path is not None:
                fd = os.open(comp, _DIR_FLAGS, dir_fd=pfd)
                try:
                    for name in os.listxattr(lower_path, follow_symlinks=False):
                        if not name.startswith(("trusted.overlay.", "user.overlay.")):
                            os.setxattr(fd, name, os.getxattr(lower_path, name,
                                                              follow_symlinks=False))
                finally:
                    os.close(fd)
            os.utime(comp, ns=(lower.st_atime_ns, lower.st_mtime_ns), dir_fd=pfd,
                     follow_symlinks=False)

    def _lower_path(self, parts: list[str]) -> str | None:
        """The path of ``parts`` in the topmost lower dir that has it."""
        found = self._lower_lookup(parts)
        return self._last_lower_path if found is not None else None

    def _lower_lookup(self, parts: list[str]) -> os.stat_result | None:
        """lstat of ``parts`` in the merged view of the lower dirs (top
        first), honouring whiteouts and opaque dirs. Each step only descends
        into lowers where the path so far is a real directory, so no symlink
        is ever followed."""
        active = self.lowers
        found: os.stat_result | None = None
        for i in range(len(parts)):
            found = None
            below: list[str] = []
            for lower in active:
                path = os.path.join(lower, *parts[: i + 1])
                try:
                    st = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if _is_overlay_whiteout(st):
                    break
                if found is None:
                    found = st
                    self._last_lower_path = path
                if not stat.S_ISDIR(st.st_mode):
                    break
                below.append(lower)
                try:
                    if os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y":
                        break
                except OSError:
                    pass
            if found is None or not stat.S_ISDIR(found.st_mode):
                return found
            active = below
        return found

    # --- metadata ---------------------------------------------------------------

    @staticmethod
    def _times(m: tarfile.TarInfo) -> tuple[int, int]:
        mtime = _pax_ns(m, "mtime")
        if mtime is None:
            mtime = int(m.mtime) * 1_000_000_000
        atime = _pax_ns(m, "atime")
        return (mtime if atime is None else atime), mtime

    def _set_meta_fd(self, fd: int, m: tarfile.TarInfo, rel: str, times: bool = True) -> None:
        os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
        for name, value in _xattrs(m):
            self._setxattr(lambda n, v: os.setxattr(fd, n, v), name, value)
        if times:
            os.utime(fd, ns=self._times(m))

    def _set_meta_path(self, pfd: int, base: str, m: tarfile.TarInfo, symlink: bool = False) -> None:
        os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not symlink:  # Linux has no lchmod; a symlink's mode means nothing
            os.chmod(base, m.mode & 0o7777, dir_fd=pfd)
        xattrs = _xattrs(m)
        if xattrs:
            # No fd-relative setxattr in Python: go through the directory fd's
            # /proc link (the directory is pinned; the last component is not
            # followed).
            path = f"/proc/self/fd/{pfd}/{base}"
            for name, value in xattrs:
                self._setxattr(
                    lambda n, v: os.setxattr(path, n, v, follow_symlinks=False), name, value
                )
        os.utime(base, ns=self._times(m), dir_fd=pfd, follow_symlinks=False)

    def _setxattr(self, setter: object, name: str, value: bytes) -> None:
        try:
            setter(name, value)  # type: ignore[operator]
        except OSError as e:
            if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP) and name == "security.selinux":
                return  # no SELinux here; labels are the host's business
            raise LayerError(f"layer entry {self.entry!r}: cannot set xattr {name}: {e}") from None

    def _set_dir_times(self) -> None:
        for rel, atime, mtime in reversed(self.dir_times):
            try:
                fd = self._dir(rel.split("/"), create=False) if rel else self.root
            except LayerError:
                fd = None  # replaced by a link later in the layer: leave it
            if fd is None:
                continue  # deleted later in the same layer
            try:
                os.utime(fd, ns=(atime, mtime))
            except OSError:
                pass
        self.dir_times.clear()


def _drop_other_xattrs(fd: int, keep: set[str]) -> None:
    """A directory entry replaces the metadata of the directory already
    there: xattrs the entry doesn't carry go (overlay's own stay)."""
    for name in os.listxattr(fd):
        if name not in keep and not name.startswith(("trusted.overlay.", "security.selinux")):
            os.removexattr(fd, name)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
