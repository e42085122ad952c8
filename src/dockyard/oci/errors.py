"""Errors of the oci package.

    OCIError
    ├── InvalidSpecError          a document that does not parse or validate: config.json,
    │   │                         state, or an image manifest/index/config/descriptor
    │   └── UnknownMediaTypeError a media type that is missing or not one we can handle here
    ├── InvalidDigestError        a digest string with a bad algorithm or encoding
    ├── DigestMismatchError       content that does not hash to the digest it should
    └── NoMatchingPlatformError   an index with no manifest for the wanted platform
"""

from __future__ import annotations


class OCIError(Exception):
    """Base of oci's errors."""


class InvalidSpecError(OCIError, ValueError):
    """A document that does not follow its spec; the message names the field."""


class UnknownMediaTypeError(InvalidSpecError):
    """A media type we do not know where a known one is required."""

    def __init__(self, message: str, media_type: str | None) -> None:
        super().__init__(message)
        self.media_type = media_type


class InvalidDigestError(OCIError, ValueError):
    """A digest that is not ``algorithm:hex`` of a known algorithm."""


class DigestMismatchError(OCIError, ValueError):
    """Content whose digest is not the expected one."""

    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        super().__init__(f"{what} digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class NoMatchingPlatformError(OCIError, LookupError):
    """No manifest in an index matches the wanted platform."""

    def __init__(self, wanted: str, available: list[str]) -> None:
        listed = ", ".join(available) if available else "none"
        super().__init__(
            f"no matching manifest for {wanted} in the manifest list entries "
            f"(available: {listed})"
        )
        self.wanted = wanted
        self.available = available
