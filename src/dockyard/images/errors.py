"""Errors of the images package; each maps to one HTTP status at the API edge.

    ImageError                          500
    ├── InvalidReferenceError           400  bad reference syntax ("invalid reference format: …")
    ├── ImageNotFoundError              404  "No such image: busybox:latest"
    ├── ImageConflictError              409  rm of an image other tags or containers use, ambiguous id
    ├── PlatformNotFoundError           404  an index with no manifest for the wanted platform
    ├── InvalidImageError               400  a manifest/config/index that does not parse or verify
    │   └── UnsupportedMediaTypeError   400  a media type we do not know
    ├── InvalidArchiveError             400  save/load archives: bad paths (../), missing files
    ├── InvalidFilterError              400  an unknown or malformed ls/prune filter
    └── InvalidChangeError              400  a bad ``--change`` instruction of import/commit
"""

from __future__ import annotations


class ImageError(Exception):
    """Base of the image service's errors."""

    status = 500


class InvalidReferenceError(ImageError, ValueError):
    status = 400


class ImageNotFoundError(ImageError, LookupError):
    status = 404

    def __init__(self, ref: str) -> None:
        super().__init__(f"No such image: {ref}")
        self.ref = ref


class ImageConflictError(ImageError):
    status = 409


class PlatformNotFoundError(ImageError, LookupError):
    status = 404


class InvalidImageError(ImageError, ValueError):
    status = 400


class UnsupportedMediaTypeError(InvalidImageError):
    status = 400


class InvalidArchiveError(ImageError, ValueError):
    status = 400


class InvalidChangeError(ImageError, ValueError):
    status = 400


class InvalidFilterError(ImageError, ValueError):
    status = 400
