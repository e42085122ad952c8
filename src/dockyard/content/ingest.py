"""Ingests: writes in progress, verified as they go, resumable after a crash.

An ingest lives in ``<root>/ingest/<sha256(ref)>/``. The directory is
named by a hash of the ref because refs are caller-chosen strings
(``pull-docker.io/library/busybox:latest-layer-sha256:...``): hashing keeps
slashes, ``..`` and length limits out of paths. It holds:

- ``ref``   the ref itself (for ``list_statuses``);
- ``meta``  JSON written once, atomically: expected digest and size, start time;
- ``data``  the bytes so far. Its length *is* the resume offset.

A writer holds ``flock(LOCK_EX)`` on ``data`` for its whole life, so a
second writer (thread or process) of the same ref is refused at once and
GC leaves a live ingest alone. The lock dies with the process: after a
``kill -9`` the next writer takes over and resumes. No digester state
survives a restart (hashlib states cannot be saved), so a resume rehashes
what is on disk; that costs one read of the partial data, as in containerd.

Verification: bytes past the expected size are refused when written;
size and digest are checked again at commit. Any failure removes the
ingest, so nothing is left behind.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import mmap
import os
import shutil
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from dockyard.linux.atomic import fsync_dir, write_bytes
from dockyard.oci.digest import Digest, Digester, parse_digest
from dockyard.oci.errors import InvalidDigestError

from . import Info, Status
from .errors import (
    AlreadyExistsError,
    DigestMismatchError,
    IngestLockedError,
    InvalidArgumentError,
    NotFoundError,
    SizeMismatchError,
)

if TYPE_CHECKING:
    from .local import LocalStore

_FLUSH_AT = 1 << 20  # buffer small writes up to 1 MiB before a write(2)
_READ_CHUNK = 1 << 20


def ingest_dirname(ref: str) -> str:
    return hashlib.sha256(ref.encode()).hexdigest()


def check_ref(ref: object) -> str:
    if not isinstance(ref, str) or not ref or len(ref) > 4096 or "\0" in ref:
        raise InvalidArgumentError(
            f"invalid ingest ref {ref!r}: expected a non-empty string of at most 4096 characters"
        )
    return ref


def check_expected(expected: str | None, size: int | None) -> tuple[Digest | None, int | None]:
    try:
        want = parse_digest(expected) if expected is not None else None
    except InvalidDigestError as e:
        raise InvalidArgumentError(f"expected digest: {e}") from None
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise InvalidArgumentError(f"expected size {size!r}: must be a non-negative integer")
    return want, size


def try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


def read_status(path: str) -> Status:
    """The status of the ingest in directory ``path`` (NotFoundError if gone)."""
    try:
        with open(os.path.join(path, "meta"), "rb") as f:
            meta = json.loads(f.read())
        st = os.stat(os.path.join(path, "data"))
    except (FileNotFoundError, ValueError):
        raise NotFoundError(f"ingest {os.path.basename(path)}: not found") from None
    expected = meta.get("expected")
    return Status(
        ref=meta["ref"],
        offset=st.st_size,
        total=meta.get("total"),
        expected=Digest(expected) if expected else None,
        started_at=float(meta["started_at"]),
        updated_at=st.st_mtime,
    )


class LocalWriter:
    """A ``content.Writer`` over one ingest directory. Not thread-safe: one
    writer is used by one thread at a time (the lock keeps others out)."""

    def __init__(
        self,
        store: LocalStore,
        ref: str,
        expected: Digest | None,
        total: int | None,
        lease: str | None,
        *,
        durable: bool = True,
    ) -> None:
        self._store = store
        self._durable = durable
        self._ref = ref
        self._lease = lease
        self._dir = os.path.join(store.root, "ingest", ingest_dirname(ref))
        self._buf = bytearray()
        self._closed = False
        self._file = self._open_locked()
        try:
            self._expected, self._total, self._started = self._load_or_create_meta(expected, total)
            self._digester = Digester(self._expected.algorithm if self._expected else "sha256")
            self._rehash()
        except BaseException:
            self._file.close()
            raise

    # --- opening and resuming ---------------------------------------------------

    def _open_locked(self) -> io.FileIO:
        for _ in range(100):
            os.makedirs(self._dir, exist_ok=True)
            try:
                f = io.FileIO(os.path.join(self._dir, "data"), "a+")
            except FileNotFoundError:
                continue  # the dir was removed between makedirs and open
            if not try_lock(f.fileno()):
                f.close()
                raise IngestLockedError(self._ref)
            # A commit or abort may have removed the dir before we got the lock.
            try:
                same = os.stat(os.path.join(self._dir, "data")).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return f
            f.close()
        raise IngestLockedError(self._ref)

    def _load_or_create_meta(
        self, expected: Digest | None, total: int | None
    ) -> tuple[Digest | None, int | None, float]:
        meta_path = os.path.join(self._dir, "meta")
        try:
            with open(meta_path, "rb") as f:
                meta = json.loads(f.read())
        except (FileNotFoundError, ValueError):
            meta = None
        if meta is None:
            started = time.time()
            write_bytes(os.path.join(self._dir, "ref"), self._ref.encode(), sync=False)
            doc = {"ref": self._ref, "expected": expected, "total": total, "started_at": started}
            # A durable ingest's meta survives a power cut so the write can
            # resume after it; a one-shot writer's (see ``LocalStore.writer``)
            # only needs to survive a kill, for cleanup to find its ref.
            write_bytes(meta_path, json.dumps(doc).encode(), sync=self._durable)
            return expected, total, started
        old_expected = Digest(meta["expected"]) if meta.get("expected") else None
        old_total = meta.get("total")
        # Resuming with other expectations would mix two contents in one file.
        if expected is not None and old_expected is not None and expected != old_expected:
            raise InvalidArgumentError(
                f"ingest {self._ref!r} was started for {old_expected}, not {expected}; "
                f"abort it first"
            )
        if total is not None and old_total is not None and total != old_total:
            raise InvalidArgumentError(
                f"ingest {self._ref!r} was started for {old_total} bytes, not {total}; "
                f"abort it first"
            )
        return (
            expected or old_expected,
            total if total is not None else old_total,
            float(meta["started_at"]),
        )

    def _rehash(self) -> None:
        fd = self._file.fileno()
        size = os.fstat(fd).st_size
        if self._total is not None and size > self._total:
            self._fail(SizeMismatchError(self._ref, self._total, size))
        pos = 0
        while pos < size:
            chunk = os.pread(fd, min(_READ_CHUNK, size - pos), pos)
            if not chunk:
                break
            self._digester.update(chunk)
            pos += len(chunk)

    # --- the Writer contract --------------------------------------------------------

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return self._digester.size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._check_open()
        n = len(data)
        if self._total is not None and self._digester.size + n > self._total:
            self._fail(SizeMismatchError(self._ref, self._total, self._digester.size + n))
        self._digester.update(data)
        if not self._buf and n >= _FLUSH_AT:
            _write_all(self._file.fileno(), data)  # big chunks skip the copy
            return n
        self._buf += data
        if len(self._buf) >= _FLUSH_AT:
            self._flush()
        return n

    def write_range(self, fd: int, offset: int, size: int) -> int:
        """Append ``size`` bytes of the file ``fd`` from ``offset`` (``docker
        load -i FILE`` copying a blob out of the archive): copied by the
        kernel (``copy_file_range``), then hashed through a read-only mapping
        of what landed in the ingest, so the digest covers exactly the
        stored bytes and nothing passes through Python. Same checks as
        ``write``; a failure removes the ingest."""
        self._check_open()
        if size < 0 or offset < 0:
            raise InvalidArgumentError(f"invalid range offset={offset} size={size}")
        if self._total is not None and self._digester.size + size > self._total:
            self._fail(SizeMismatchError(self._ref, self._total, self._digester.size + size))
        if size == 0:
            return 0
        self._flush()
        out = self._file.fileno()
        pos = self._digester.size  # the data file's length: everything is flushed
        try:
            _copy_range(fd, offset, out, size)
            start = pos - pos % mmap.ALLOCATIONGRANULARITY
            with mmap.mmap(out, size + pos - start, prot=mmap.PROT_READ, offset=start) as mm:
                mm.madvise(mmap.MADV_SEQUENTIAL)
                with memoryview(mm) as view, view[pos - start:] as part:
                    self._digester.update(part)
        except BaseException:
            self._discard()
            raise
        return size

    def digest(self) -> Digest:
        return self._digester.digest()

    def status(self) -> Status:
        self._flush()
        return Status(
            ref=self._ref,
            offset=self.offset,
            total=self._total,
            expected=self._expected,
            started_at=self._started,
            updated_at=time.time(),
        )

    def commit(
        self,
        size: int | None = None,
        expected: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Info:
        self._check_open()
        want, want_size = check_expected(expected, size)
        want = want or self._expected
        want_size = want_size if want_size is not None else self._total
        if labels:
            self._store.check_labels(labels)
        self._flush()
        if want_size is not None and self.offset != want_size:
            self._fail(SizeMismatchError(self._ref, want_size, self.offset))
        got = self._digester.digest()
        if want is not None and want.algorithm != got.algorithm:
            # The digester was chosen before this expectation was known.
            got = _hash_file(self._file.fileno(), want.algorithm)
        if want is not None and got != want:
            self._fail(DigestMismatchError(self._ref, want, got))
        # Always: a blob linked into blobs/ must never lose its bytes to a
        # power cut (the link could survive them).
        os.fsync(self._file.fileno())
        try:
            info = self._store.publish(
                os.path.join(self._dir, "data"), got, self.offset, labels, self._lease, self._ref,
                sync_dir=self._durable,
            )
        except AlreadyExistsError:
            self._discard()
            raise
        self._discard()
        return info

    def close(self) -> None:
        """Keep the ingest for a later resume; release the lock."""
        if self._closed:
            return
        try:
            self._flush()
        finally:
            self._closed = True
            self._file.close()

    def abort(self) -> None:
        self._discard()

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgumentError(f"writer for ingest {self._ref!r} is closed")

    def _flush(self) -> None:
        if self._buf and not self._closed:
            _write_all(self._file.fileno(), self._buf)
            self._buf.clear()

    def _discard(self) -> None:
        """Remove the ingest while still holding its lock, then let go."""
        if not self._closed:
            self._buf.clear()
            shutil.rmtree(self._dir, ignore_errors=True)
            self._closed = True
            self._file.close()

    def _fail(self, error: Exception) -> None:
        self._discard()
        raise error


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    with memoryview(data) as view:
        pos = 0
        while pos < len(view):
            pos += os.write(fd, view[pos:])


def _copy_range(src: int, offset: int, dst: int, size: int) -> None:
    """Append ``size`` bytes of ``src`` at ``offset`` to ``dst`` (opened
    O_APPEND, which copy_file_range refuses: it gets a second descriptor)."""
    out = os.open(f"/proc/self/fd/{dst}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        pos = os.fstat(out).st_size
        done = 0
        try:
            while done < size:
                n = os.copy_file_range(src, out, size - done, offset + done, pos + done)
                if n == 0:
                    raise OSError(errno.EIO, "source file ended inside the range")
                done += n
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            while done < size:  # no in-kernel copy here: read and write
                chunk = os.pread(src, min(_READ_CHUNK, size - done), offset + done)
                if not chunk:
                    raise OSError(errno.EIO, "source file ended inside the range") from None
                pos_chunk = pos + done
                view = memoryview(chunk)
                while view:
                    n = os.pwrite(out, view, pos_chunk)
                    view = view[n:]
                    pos_chunk += n
                done += len(chunk)
    finally:
        os.close(out)


def _hash_file(fd: int, algorithm: str) -> Digest:
    d = Digester(algorithm)
    pos = 0
    while chunk := os.pread(fd, _READ_CHUNK, pos):
        d.update(chunk)
        pos += len(chunk)
    return d.digest()


def remove_ingest_dir(path: str, *, only_if: Callable[[os.stat_result], bool] | None = None) -> int:
    """Remove an ingest dir if no writer holds it (and ``only_if(stat)``);
    returns the bytes of data freed, or -1 when it was left alone."""
    data = os.path.join(path, "data")
    try:
        fd = os.open(data, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        # No data file: a creation cut short; nothing to lock.
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return -1
        if only_if is not None and not only_if(st):
            return -1
        shutil.rmtree(path, ignore_errors=True)
        return 0
    try:
        if not try_lock(fd):
            return -1
        st = os.fstat(fd)
        if only_if is not None and not only_if(st):
            return -1
        shutil.rmtree(path, ignore_errors=True)
        fsync_dir(os.path.dirname(path))
        return st.st_size
    finally:
        os.close(fd)
