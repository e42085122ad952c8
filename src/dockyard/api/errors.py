"""HTTP errors of the API; the engine's and the image service's errors map here.

::

    ApiError (status from the class)     {"message": …} body
    ├── BadRequest          400  malformed JSON, wrong types, bad query values
    └── (engine errors)     EngineError 500, InvalidParameter 400, NotFound 404,
                            Conflict 409, NotModified 304
    image errors            InvalidReference 400, ImageNotFound 404, Conflict 409
"""

from __future__ import annotations


class ApiError(Exception):
    status = 500


class BadRequest(ApiError):
    status = 400


def status_of(exc: BaseException) -> int | None:
    """The HTTP status for an error we know, None for a bug."""
    from dockyard.engine.errors import EngineError

    if isinstance(exc, ApiError | EngineError):
        return exc.status
    from dockyard.network.errors import NetworkError
    from dockyard.volume.errors import VolumeError

    if isinstance(exc, VolumeError | NetworkError):
        return int(getattr(exc, "status", 500))
    try:
        from dockyard.images import errors as ie
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, ie.ImageNotFoundError):
        return 404
    if isinstance(exc, ie.ImageConflictError):
        return 409
    if isinstance(exc, ie.InvalidReferenceError | ie.InvalidFilterError | ie.InvalidChangeError
                  | ie.InvalidArchiveError):
        return 400
    if isinstance(exc, ie.ImageError):
        return 500
    return None
