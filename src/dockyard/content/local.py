"""``LocalStore``: the content store on a local filesystem.

Blobs are plain files at ``<root>/blobs/<alg>/<hex>``, made read-only
and never rewritten; readers get real files (seek for ranges, sendfile
works). Publishing a blob is ``link(2)`` of the verified, fsynced ingest
file into ``blobs/``: atomic, and it refuses to replace an existing name,
so of two concurrent writers of one blob exactly one wins and the other
learns so (``AlreadyExistsError``) without either file being touched.

Commits take ``<root>/gc.lock`` shared and ``gc()`` takes it exclusive,
so a collection never runs between a blob's link and the record that
gives it a lease or labels.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

from dockyard.linux.atomic import fsync_dir
from dockyard.oci.digest import ALGORITHMS, Digest, parse_digest
from dockyard.oci.errors import InvalidDigestError

from . import GCResult, Info, Lease, Status
from .errors import AlreadyExistsError, IngestLockedError, InvalidArgumentError, NotFoundError
from .ingest import (
    LocalWriter,
    check_expected,
    check_ref,
    ingest_dirname,
    read_status,
    remove_ingest_dir,
)
from .metadata import Metadata

MAX_LABEL_BYTES = 4096  # containerd's limit on len(key) + len(value)


class LocalStore:
    """The filesystem ``ContentStore``. Safe to share between threads, and
    between processes that open the same ``root``."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        for alg in ALGORITHMS:
            os.makedirs(os.path.join(self.root, "blobs", alg), exist_ok=True)
        os.makedirs(os.path.join(self.root, "ingest"), exist_ok=True)
        self._meta = Metadata(os.path.join(self.root, "metadata.db"))
        self._gc_lock_path = os.path.join(self.root, "gc.lock")

    def close(self) -> None:
        self._meta.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- paths ---------------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        """Where a blob lives (whether or not it exists). Validates the digest,
        so no caller-supplied string ever becomes a path unchecked."""
        d = _digest_arg(digest)
        return os.path.join(self.root, "blobs", d.algorithm, d.encoded)

    @contextmanager
    def _gc_lock(self, exclusive: bool) -> Iterator[None]:
        fd = os.open(self._gc_lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    # --- reading ---------------------------------------------------------------------

    def info(self, digest: str) -> Info:
        d = _digest_arg(digest)
        try:
            st = os.stat(self.blob_path(d))
        except FileNotFoundError:
            raise NotFoundError(f"content {d}: not found") from None
        found = self._meta.get_blob(d)
        if found is None:
            # Linked but not recorded (a crash in between): adopt it.
            self._meta.ensure_blob(d, st.st_size)
            found = self._meta.get_blob(d)
            assert found is not None
        (_, size, created, updated), labels = found
        return Info(digest=d, size=size, created_at=created, updated_at=updated, labels=labels)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"content {digest}: not found") from None

    def read(self, digest: str, offset: int = 0, length: int | None = None) -> bytes:
        if offset < 0 or (length is not None and length < 0):
            raise InvalidArgumentError(
                f"invalid range offset={offset} length={length}: must be non-negative"
            )
        with self.open(digest) as f:
            size = os.fstat(f.fileno()).st_size
            if offset > size:
                raise InvalidArgumentError(
                    f"content {digest}: offset {offset} is past the end ({size} bytes)"
                )
            n = size - offset if length is None else min(length, size - offset)
            out = bytearray()
            while len(out) < n:
                chunk = os.pread(f.fileno(), n - len(out), offset + len(out))
                if not chunk:
                    break
                out += chunk
            return bytes(out)

    def _scan(self) -> dict[Digest, int]:
        """The blob files present: digest -> size (the ground truth)."""
        found: dict[Digest, int] = {}
        for alg in ALGORITHMS:
            try:
                entries = os.scandir(os.path.join(self.root, "blobs", alg))
            except FileNotFoundError:
                continue
            with entries:
                for e in entries:
                    try:
                        d = parse_digest(f"{alg}:{e.name}")
                        found[d] = e.stat(follow_symlinks=False).st_size
                    except (InvalidDigestError, FileNotFoundError):
                        continue  # not ours (or just removed): never served
        return found

    def list(self, labels: Mapping[str, str | None] | None = None) -> Iterator[Info]:
        files = self._scan()
        rows = self._meta.all_blobs()
        missing = [d for d in files if d not in rows]
        for d in missing:
            self._meta.ensure_blob(d, files[d])
        if missing:
            rows = self._meta.all_blobs()
        for d in sorted(files):
            (_, size, created, updated), blob_labels = rows[d]
            if labels and not all(
                k in blob_labels and (v is None or blob_labels[k] == v) for k, v in labels.items()
            ):
                continue
            yield Info(
                digest=d, size=size, created_at=created, updated_at=updated, labels=blob_labels
            )

    walk = list

    def usage(self) -> dict[Digest, int]:
        return self._scan()

    # --- writing -----------------------------------------------------------------------

    def writer(
        self,
        ref: str,
        expected: str | None = None,
        size: int | None = None,
        *,
        lease: str | None = None,
        durable: bool = True,
    ) -> LocalWriter:
        """Open (or resume) the ingest ``ref`` (see ``ContentStore.writer``).

        ``durable=False`` is for one-shot writes whose ingest is never resumed
        (``docker load``): its metadata is not fsynced, and the link into
        ``blobs/`` is made durable by the next ``sync()`` instead of by each
        commit, so a load of n blobs fsyncs the directory once, not n times.
        The blob's data is fsynced before its link either way; the caller
        must ``sync()`` before recording anything that refers to the blob.
        """
        check_ref(ref)
        want, total = check_expected(expected, size)
        if want is not None and self.exists(want):
            # Nothing to write; an interrupted ingest of it is now useless.
            remove_ingest_dir(os.path.join(self.root, "ingest", ingest_dirname(ref)))
            raise AlreadyExistsError(f"content {want}", want)
        if lease is not None and not self._meta.add_resource(lease, "ingests", ref):
            raise NotFoundError(f"lease {lease!r}: not found")
        return LocalWriter(self, ref, want, total, lease, durable=durable)

    def publish(
        self,
        data_path: str,
        digest: Digest,
        size: int,
        labels: Mapping[str, str] | None,
        lease: str | None,
        ref: str,
        *,
        sync_dir: bool = True,
    ) -> Info:
        """Link a verified ingest file into ``blobs/`` and record it (used by
        ``LocalWriter.commit``). ``sync_dir=False`` leaves the directory's
        fsync to ``sync()``."""
        target = self.blob_path(digest)
        os.chmod(data_path, 0o444)
        with self._gc_lock(exclusive=False):
            try:
                os.link(data_path, target)
            except FileExistsError:
                if lease is not None:
                    # The content is there: the lease should now hold it.
                    self._meta.add_resource(lease, "content", digest)
                    self._meta.remove_resource(lease, "ingests", ref)
                raise AlreadyExistsError(f"content {digest}", digest) from None
            if sync_dir:
                fsync_dir(os.path.dirname(target))
            with self._meta.tx() as c:
                Metadata.insert_blob(c, digest, size, labels)
                if lease is not None:
                    c.execute(
                        "INSERT OR IGNORE INTO lease_resources(lease, type, id) "
                        "SELECT id, 'content', ? FROM leases WHERE id=?",
                        (digest, lease),
                    )
                    c.execute(
                        "DELETE FROM lease_resources WHERE lease=? AND type='ingests' AND id=?",
                        (lease, ref),
                    )
        return self.info(digest)

    def sync(self) -> None:
        """Make every link into ``blobs/`` durable, whoever made it: one fsync
        per ``blobs/<alg>`` directory. Also those of another process's
        ``durable=False`` writers, whose blobs a caller may have found there
        and now refers to (cheap when nothing changed)."""
        for alg in ALGORITHMS:
            fsync_dir(os.path.join(self.root, "blobs", alg))

    def status(self, ref: str) -> Status:
        check_ref(ref)
        try:
            return read_status(os.path.join(self.root, "ingest", ingest_dirname(ref)))
        except NotFoundError:
            raise NotFoundError(f"ingest {ref!r}: not found") from None

    def list_statuses(self) -> builtins.list[Status]:
        out: builtins.list[Status] = []
        base = os.path.join(self.root, "ingest")
        for name in sorted(os.listdir(base)):
            try:
                out.append(read_status(os.path.join(base, name)))
            except NotFoundError:
                continue
        return out

    def abort(self, ref: str) -> None:
        check_ref(ref)
        path = os.path.join(self.root, "ingest", ingest_dirname(ref))
        if not os.path.isdir(path):
            raise NotFoundError(f"ingest {ref!r}: not found")
        if remove_ingest_dir(path) < 0:
            raise IngestLockedError(ref)

    def delete(self, digest: str) -> None:
        d = _digest_arg(digest)
        with self._gc_lock(exclusive=False):
            try:
                os.unlink(self.blob_path(d))
            except FileNotFoundError:
                raise NotFoundError(f"content {d}: not found") from None
            self._meta.delete_blobs([d])

    # --- labels --------------------------------------------------------------------------

    @staticmethod
    def check_labels(labels: Mapping[str, str | None]) -> None:
        for k, v in labels.items():
            if not isinstance(k, str) or not k:
                raise InvalidArgumentError(f"label key {k!r}: must be a non-empty string")
            if v is not None and not isinstance(v, str):
                raise InvalidArgumentError(f"label {k!r}: value must be a string, got {v!r}")
            if len(k.encode()) + len((v or "").encode()) > MAX_LABEL_BYTES:
                raise InvalidArgumentError(
                    f"label {k[:64]!r}: key and value exceed {MAX_LABEL_BYTES} bytes"
                )

    def update_labels(self, digest: str, labels: Mapping[str, str | None]) -> Info:
        return self._set_labels(digest, labels, replace=False)

    def set_labels(self, digest: str, labels: Mapping[str, str]) -> Info:
        return self._set_labels(digest, labels, replace=True)

    def _set_labels(self, digest: str, labels: Mapping[str, str | None], *, replace: bool) -> Info:
        self.check_labels(labels)
        self.info(digest)  # NotFoundError, and adopts an unrecorded blob
        if not self._meta.update_labels(_digest_arg(digest), labels, replace=replace):
            raise NotFoundError(f"content {digest}: not found")
        return self.info(digest)

    # --- leases ------------------------------------------------------------------------------

    def create_lease(
        self,
        id: str | None = None,
        *,
        expires_in: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Lease:
        lease_id = id or f"lease-{int(time.time())}-{secrets.token_hex(6)}"
        if not isinstance(lease_id, str) or len(lease_id) > 256:
            raise InvalidArgumentError(f"lease id {lease_id!r}: must be a string of at most 256 characters")
        if expires_in is not None and expires_in <= 0:
            raise InvalidArgumentError(f"lease expiry {expires_in!r}: must be positive seconds")
        expires_at = time.time() + expires_in if expires_in is not None else None
        row = self._meta.create_lease(lease_id, expires_at, labels or {})
        if row is None:
            raise AlreadyExistsError(f"lease {lease_id!r}")
        return Lease(id=row[0], created_at=row[1], expires_at=row[2], labels=row[3])

    def delete_lease(self, id: str) -> None:
        if not self._meta.delete_lease(id):
            raise NotFoundError(f"lease {id!r}: not found")

    def list_leases(self) -> builtins.list[Lease]:
        return [
            Lease(id=i, created_at=c, expires_at=e, labels=lb) for i, c, e, lb in self._meta.leases()
        ]

    def add_to_lease(self, lease: str, digest: str) -> None:
        if not self._meta.add_resource(lease, "content", _digest_arg(digest)):
            raise NotFoundError(f"lease {lease!r}: not found")

    def remove_from_lease(self, lease: str, digest: str) -> None:
        self._meta.remove_resource(lease, "content", _digest_arg(digest))

    # --- garbage collection ----------------------------------------------------------------------

    def gc(self, roots: Iterable[str] = (), *, ingest_cutoff: float | None = None) -> GCResult:
        from .gc import collect

        root_digests = [_digest_arg(r) for r in roots]
        with self._gc_lock(exclusive=True):
            return collect(self, self._meta, root_digests, ingest_cutoff)


def _digest_arg(digest: str) -> Digest:
    try:
        return parse_digest(digest)
    except InvalidDigestError as e:
        raise InvalidArgumentError(str(e)) from None



if TYPE_CHECKING:
    from . import ContentStore

    def _conforms(store: LocalStore) -> ContentStore:
        return store  # mypy checks LocalStore against the contract here
