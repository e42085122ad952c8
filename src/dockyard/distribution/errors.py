"""Errors of the distribution package: the OCI distribution spec's error codes.

Each error carries the spec's ``code`` and the HTTP status the server
answers with; the server writes them as the spec's body
``{"errors": [{"code", "message", "detail"}]}``, and the client will raise
the same classes when it reads such a body.

    DistributionError                 (500 UNKNOWN)
    ├── BlobUnknownError              404 BLOB_UNKNOWN           no such blob in this repository
    ├── BlobUploadInvalidError        400 BLOB_UPLOAD_INVALID    an upload that cannot go on
    ├── BlobUploadUnknownError        404 BLOB_UPLOAD_UNKNOWN    no such upload session
    ├── DigestInvalidError            400 DIGEST_INVALID         bad digest, or content that does not match it
    ├── ManifestBlobUnknownError      400 MANIFEST_BLOB_UNKNOWN  a manifest referencing what the repository lacks
    ├── ManifestInvalidError          400 MANIFEST_INVALID       a manifest that does not parse or validate
    ├── ManifestUnknownError          404 MANIFEST_UNKNOWN       no such manifest or tag
    ├── NameInvalidError              400 NAME_INVALID           a repository name outside the grammar
    ├── NameUnknownError              404 NAME_UNKNOWN           no such repository
    ├── SizeInvalidError              400 SIZE_INVALID           content of the wrong length
    │   └── ManifestTooLargeError     413 SIZE_INVALID           a manifest over the 4 MiB cap
    ├── UnauthorizedError             401 UNAUTHORIZED           no or bad credentials (with a challenge)
    ├── DeniedError                   403 DENIED                 authenticated, but not allowed
    ├── UnsupportedError              405 UNSUPPORTED            an operation this registry does not do
    ├── TooManyRequestsError          429 TOOMANYREQUESTS
    ├── RangeInvalidError             416 RANGE_INVALID          a chunk out of order, or a range past the end
    └── PaginationNumberInvalidError  400 PAGINATION_NUMBER_INVALID  a bad ``n`` (distribution's code)

``ConfigError`` (not an HTTP error) is a bad ``--config`` file or flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DistributionError(Exception):
    """Base of distribution's errors: one spec code, one HTTP status."""

    code: ClassVar[str] = "UNKNOWN"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}


class BlobUnknownError(DistributionError):
    code = "BLOB_UNKNOWN"
    status = 404


class BlobUploadInvalidError(DistributionError):
    code = "BLOB_UPLOAD_INVALID"
    status = 400


class BlobUploadUnknownError(DistributionError):
    code = "BLOB_UPLOAD_UNKNOWN"
    status = 404


class DigestInvalidError(DistributionError):
    code = "DIGEST_INVALID"
    status = 400


class ManifestBlobUnknownError(DistributionError):
    code = "MANIFEST_BLOB_UNKNOWN"
    status = 400


class ManifestInvalidError(DistributionError):
    code = "MANIFEST_INVALID"
    status = 400


class ManifestUnknownError(DistributionError):
    code = "MANIFEST_UNKNOWN"
    status = 404


class NameInvalidError(DistributionError):
    code = "NAME_INVALID"
    status = 400


class NameUnknownError(DistributionError):
    code = "NAME_UNKNOWN"
    status = 404


class SizeInvalidError(DistributionError):
    code = "SIZE_INVALID"
    status = 400


class ManifestTooLargeError(SizeInvalidError):
    status = 413


class UnauthorizedError(DistributionError):
    code = "UNAUTHORIZED"
    status = 401


class DeniedError(DistributionError):
    code = "DENIED"
    status = 403


class UnsupportedError(DistributionError):
    code = "UNSUPPORTED"
    status = 405


class TooManyRequestsError(DistributionError):
    code = "TOOMANYREQUESTS"
    status = 429


class RangeInvalidError(DistributionError):
    code = "RANGE_INVALID"
    status = 416


class PaginationNumberInvalidError(DistributionError):
    code = "PAGINATION_NUMBER_INVALID"
    status = 400


class ConfigError(ValueError):
    """A bad registry configuration (file or flags); the message names the key."""


BY_CODE: dict[str, type[DistributionError]] = {
    cls.code: cls
    for cls in (
        BlobUnknownError,
        BlobUploadInvalidError,
        BlobUploadUnknownError,
        DigestInvalidError,
        ManifestBlobUnknownError,
        ManifestInvalidError,
        ManifestUnknownError,
        NameInvalidError,
        NameUnknownError,
        SizeInvalidError,
        UnauthorizedError,
        DeniedError,
        UnsupportedError,
        TooManyRequestsError,
        RangeInvalidError,
        PaginationNumberInvalidError,
    )
}
