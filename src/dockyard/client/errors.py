"""Client errors.

::

    ClientError
    ├── ConnectionFailed   the daemon is not there (socket missing, refused)
    ├── APIError           the daemon answered with an error: ``status``, ``message``
    └── InvalidDetachKeys  a ``--detach-keys`` / config ``detachKeys`` that does not
                           parse (also a ValueError), found before anything is sent
"""

from __future__ import annotations


class ClientError(Exception):
    pass


class ConnectionFailed(ClientError):
    pass


class APIError(ClientError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class InvalidDetachKeys(ClientError, ValueError):
    pass
