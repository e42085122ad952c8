"""The content store: containerd's role — blobs addressed by digest.

Owns blobs (layers, manifests, indexes, configs) stored by their digest,
verified while they are written, committed atomically, labelled, and
garbage collected by references and leases. Everything is in-process.

Layout of a local store (``LocalStore(root)``)::

    <root>/blobs/<alg>/<hex>          committed blobs, read-only, never rewritten
    <root>/ingest/<sha256(ref)>/      one in-progress write ("ingest"): data, meta
    <root>/metadata.db                SQLite (WAL): sizes, labels, leases

Writing (``store.writer(ref, expected, size)``): bytes go to the ingest's
``data`` file and through a digester as they arrive; more bytes than
``size`` are refused at once; ``commit()`` checks size and digest, fsyncs,
and links the file into ``blobs/`` (one atomic step; a concurrent writer
of the same blob finds it there and gets ``AlreadyExistsError``). A wrong
digest or size removes the ingest: nothing is left. An interrupted write
(dropped writer, ``kill -9``) leaves only its ingest: opening a writer with
the same ``ref`` resumes at ``status(ref).offset``, and ``gc()`` removes
ingests older than a cutoff. ``write_blob`` wraps all that for callers who
have the whole content or a stream. ``LocalStore`` adds two things for
bulk writers (``docker load``): ``writer(..., durable=False)`` for one-shot
ingests (no fsync of their metadata; the links into ``blobs/`` made durable
by one ``sync()`` before anything refers to them, instead of one directory
fsync per blob) and ``LocalWriter.write_range`` (a blob copied out of a file
by the kernel and hashed through a mapping).

Garbage collection follows containerd's model (docs/garbage-collection.md):

- roots: blobs labelled ``containerd.io/gc.root``, the ``roots`` a caller
  passes to ``gc()`` (the image store's targets), and every resource of a
  lease that has not expired;
- edges: labels ``containerd.io/gc.ref.content.<name>`` = ``<digest>`` on
  a blob point to its children (an index to its manifests, a manifest to
  its config and layers);
- everything not reachable is removed; ``gc()`` reports what and how many
  bytes. Writers given a ``lease`` add what they commit to it, so a pull in
  progress is never collected under its own feet.

Entry points: ``ContentStore`` (the contract), ``LocalStore`` (the
filesystem implementation, ``content.local``), ``write_blob``.
Imports from dockyard: ``oci`` and ``linux`` only; never ``images``,
``snapshot`` or anything above.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from dockyard.oci.digest import Digest

# containerd's label names (core/metadata/gc.go, docs/garbage-collection.md).
LABEL_GC_ROOT = "containerd.io/gc.root"
LABEL_GC_REF_CONTENT = "containerd.io/gc.ref.content"  # prefix: ...content.<name>
LABEL_GC_REF_SNAPSHOT = "containerd.io/gc.ref.snapshot"  # prefix: ...snapshot.<snapshotter>
LABEL_GC_EXPIRE = "containerd.io/gc.expire"  # on a lease: RFC 3339 expiry
LABEL_UNCOMPRESSED = "containerd.io/uncompressed"  # on a layer blob: its diff id


@dataclass(frozen=True, slots=True)
class Info:
    """A committed blob."""

    digest: Digest
    size: int
    created_at: float  # unix seconds
    updated_at: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Status:
    """An ingest (write in progress): where a resumed write continues."""

    ref: str
    offset: int  # bytes already written; a resumed writer continues here
    total: int | None  # the expected size, when known
    expected: Digest | None
    started_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Lease:
    """A set of resources kept alive until the lease is deleted or expires."""

    id: str
    created_at: float
    expires_at: float | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GCResult:
    removed: builtins.list[Digest]  # blobs removed
    bytes_freed: int  # blob bytes plus the data of removed ingests
    ingests_removed: builtins.list[str]  # refs
    leases_expired: builtins.list[str]  # ids


class Writer(Protocol):
    """An open ingest. Use as a context manager; leaving without ``commit``
    keeps the ingest for a later resume (``abort`` removes it)."""

    @property
    def ref(self) -> str: ...

    @property
    def offset(self) -> int:
        """Bytes written so far (including those before a resume)."""
        ...

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def digest(self) -> Digest:
        """The digest of what was written so far."""
        ...

    def status(self) -> Status: ...

    def commit(
        self,
        size: int | None = None,
        expected: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Info:
        """Verify size and digest (given here or at open), then publish the blob.

        Raises ``SizeMismatchError``/``DigestMismatchError`` (the ingest is
        removed) or ``AlreadyExistsError`` (someone committed it first; the
        ingest is removed and the existing blob is fine to use).
        """
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Writer: ...

    def __exit__(self, *exc: object) -> None: ...


class ContentStore(Protocol):
    """containerd's content.Store, plus leases and GC (its metadata layer)."""

    # --- reading ---------------------------------------------------------
    def info(self, digest: str) -> Info:
        """Raises ``NotFoundError``."""
        ...

    def exists(self, digest: str) -> bool: ...

    def open(self, digest: str) -> BinaryIO:
        """A seekable reader of the blob (a real file: seek for ranges)."""
        ...

    def read(self, digest: str, offset: int = 0, length: int | None = None) -> bytes:
        """The blob's bytes, or the range ``[offset, offset+length)``."""
        ...

    def list(self, labels: Mapping[str, str | None] | None = None) -> Iterator[Info]:
        """Every blob (``walk``); with ``labels``, only those having each key
        (with that value, unless the value is None)."""
        ...

    def usage(self) -> dict[Digest, int]:
        """Size of each blob, for ``df``."""
        ...

    # --- writing ----------------------------------------------------------
    def writer(
        self,
        ref: str,
        expected: str | None = None,
        size: int | None = None,
        *,
        lease: str | None = None,
    ) -> Writer:
        """Open (or resume) the ingest ``ref``.

        Raises ``AlreadyExistsError`` when ``expected`` is already committed,
        ``IngestLockedError`` when another writer holds ``ref``.
        """
        ...

    def status(self, ref: str) -> Status:
        """Raises ``NotFoundError`` when there is no such ingest."""
        ...

    def list_statuses(self) -> builtins.list[Status]: ...

    def abort(self, ref: str) -> None:
        """Remove an ingest. Raises ``NotFoundError``."""
        ...

    def delete(self, digest: str) -> None:
        """Remove a blob now, references or not. Raises ``NotFoundError``."""
        ...

    # --- labels -------------------------------------------------------------
    def update_labels(self, digest: str, labels: Mapping[str, str | None]) -> Info:
        """Set labels (a value of None removes the key), atomically."""
        ...

    def set_labels(self, digest: str, labels: Mapping[str, str]) -> Info:
        """Replace all labels, atomically."""
        ...

    # --- leases and GC --------------------------------------------------------
    def create_lease(
        self,
        id: str | None = None,
        *,
        expires_in: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Lease: ...

    def delete_lease(self, id: str) -> None: ...

    def list_leases(self) -> builtins.list[Lease]: ...

    def add_to_lease(self, lease: str, digest: str) -> None: ...

    def remove_from_lease(self, lease: str, digest: str) -> None: ...

    def gc(
        self, roots: Iterable[str] = (), *, ingest_cutoff: float | None = None
    ) -> GCResult:
        """Remove what no root or live lease reaches; and ingests not
        touched for ``ingest_cutoff`` seconds (default: a day)."""
        ...


__all__ = [
    "LABEL_GC_EXPIRE",
    "LABEL_GC_REF_CONTENT",
    "LABEL_GC_REF_SNAPSHOT",
    "LABEL_GC_ROOT",
    "LABEL_UNCOMPRESSED",
    "ContentStore",
    "GCResult",
    "Info",
    "Lease",
    "Status",
    "Writer",
]

# The implementation and the helper, re-exported for callers (after the
# contract above, which they import).
from .local import LocalStore  # noqa: E402
from .write import write_blob  # noqa: E402

__all__ += ["LocalStore", "write_blob"]
