"""The API server's errors, each one Kubernetes ``Status`` reason and code.

    APIError                      (500 InternalError)
    ├── BadRequest                400 BadRequest
    ├── Unauthorized              401 Unauthorized
    ├── Forbidden                 403 Forbidden
    ├── NotFound                  404 NotFound
    ├── MethodNotAllowed          405 MethodNotAllowed
    ├── NotAcceptable             406 NotAcceptable
    ├── AlreadyExists             409 AlreadyExists
    ├── Conflict                  409 Conflict
    ├── Gone                      410 Gone (Expired)
    ├── RequestEntityTooLarge     413 RequestEntityTooLarge
    ├── UnsupportedMediaType      415 UnsupportedMediaType
    ├── Invalid                   422 Invalid (with details.causes)
    ├── TooManyRequests           429 TooManyRequests (an eviction a budget forbids)
    └── Unavailable               503 ServiceUnavailable

``APIError.status()`` renders the ``Status`` object that goes on the wire.
"""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    code = 500
    reason = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        group: str = "",
        kind: str = "",
        causes: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes or []

    def status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            body["details"] = details
        return body


class BadRequest(APIError):
    code = 400
    reason = "BadRequest"


class Unauthorized(APIError):
    code = 401
    reason = "Unauthorized"


class Forbidden(APIError):
    code = 403
    reason = "Forbidden"


class NotFound(APIError):
    code = 404
    reason = "NotFound"


class MethodNotAllowed(APIError):
    code = 405
    reason = "MethodNotAllowed"


class NotAcceptable(APIError):
    code = 406
    reason = "NotAcceptable"


class AlreadyExists(APIError):
    code = 409
    reason = "AlreadyExists"


class Conflict(APIError):
    code = 409
    reason = "Conflict"


class Gone(APIError):
    code = 410
    reason = "Expired"


class RequestEntityTooLarge(APIError):
    code = 413
    reason = "RequestEntityTooLarge"


class UnsupportedMediaType(APIError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(APIError):
    code = 422
    reason = "Invalid"


class TooManyRequests(APIError):
    code = 429
    reason = "TooManyRequests"


class Unavailable(APIError):
    code = 503
    reason = "ServiceUnavailable"


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> Invalid:
    """Kubernetes' wording: ``Pod "x" is invalid: [field: Required value, ...]``."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return Invalid(
        f'{kind} "{name}" is invalid: {joined}', name=name, group=group, kind=kind, causes=causes
    )


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}
