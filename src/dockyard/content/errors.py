"""Errors of the content package.

    ContentError
    ├── NotFoundError          no such blob, ingest or lease
    ├── AlreadyExistsError     the blob is already committed (not a failure for a puller)
    ├── IngestLockedError      another writer holds this ingest ref (containerd's "unavailable")
    ├── InvalidArgumentError   a bad ref, label, digest or size given by the caller
    └── VerificationError      written content is not what was expected; the ingest is gone
        ├── SizeMismatchError
        └── DigestMismatchError   (also an ``oci.errors.DigestMismatchError``)
"""

from __future__ import annotations

from dockyard.oci.errors import DigestMismatchError as _OCIDigestMismatch


class ContentError(Exception):
    """Base of content's errors."""


class NotFoundError(ContentError, LookupError):
    pass


class AlreadyExistsError(ContentError):
    def __init__(self, what: str, digest: str = "") -> None:
        super().__init__(f"{what}: already exists")
        self.digest = digest  # the blob's digest; "" for a lease id


class IngestLockedError(ContentError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"ref {ref!r} is locked: another writer is using this ingest")
        self.ref = ref


class InvalidArgumentError(ContentError, ValueError):
    pass


class VerificationError(ContentError, ValueError):
    pass


class SizeMismatchError(VerificationError):
    def __init__(self, ref: str, expected: int, actual: int) -> None:
        super().__init__(f"ingest {ref!r}: unexpected size {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual


class DigestMismatchError(VerificationError, _OCIDigestMismatch):
    def __init__(self, ref: str, expected: str, actual: str) -> None:
        _OCIDigestMismatch.__init__(self, expected, actual, what=f"ingest {ref!r}")
