"""Detach keys as a client sees them: parsed, configured, and watched for on stdin.

An attached client (``run -it``, ``attach``, ``start -ai``, ``compose run``)
ends when the user types the detach sequence; the container keeps running.
The engine does the detaching (it stops reading that session's stdin and
closes the connection); the client watches its own stdin for the same
sequence, matched the same way, so it knows the stream ended because of a
detach and not because the container exited, and does not wait for an exit.
As Docker's, only a session with a tty detaches (without one the keys are
plain data).

- ``parse_detach_keys``: ``ctrl-p,ctrl-q``, ``a``, ``ctrl-@`` … → bytes
  (the engine's ``detachKeys`` syntax); ``errors.InvalidDetachKeys`` names the key.
- ``configured_detach_keys``: ``detachKeys`` of the docker CLI's config file,
  ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``), which
  the docker CLI and docker compose honour when no ``--detach-keys`` is given.
- ``DetachMatcher``: fed stdin chunk by chunk, says where the sequence ends.
"""

from __future__ import annotations

import json
import os

from dockyard.engine import detachkeys

from .errors import InvalidDetachKeys

DEFAULT_DETACH_KEYS = detachkeys.DEFAULT_DETACH_KEYS  # ctrl-p, ctrl-q


def parse_detach_keys(spec: str) -> bytes:
    """The bytes of a detach sequence, read as the engine reads it (one parser:
    ``engine.detachkeys``); ``InvalidDetachKeys`` naming the bad key."""
    try:
        return detachkeys.parse_detach_keys(spec)
    except ValueError as e:
        raise InvalidDetachKeys(str(e)) from None


def config_file() -> str:
    """The docker CLI's config file: ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def configured_detach_keys() -> str:
    """``detachKeys`` of the config file; "" when there is none (or no readable file: the
    docker CLI then goes on with its defaults too)."""
    path = config_file()
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return ""
    keys = doc.get("detachKeys", "") if isinstance(doc, dict) else ""
    if not isinstance(keys, str):
        raise InvalidDetachKeys(f"{path}: detachKeys: expected a string like "
                                f"\"ctrl-p,ctrl-q\", got {json.dumps(keys)}")
    return keys


class DetachMatcher:
    """Finds the detach sequence in a stream of stdin chunks, matched as the engine matches
    it (a byte that breaks a partial match starts no new one), so both agree on when."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._matched = 0

    def feed(self, data: bytes) -> int:
        """The offset in ``data`` just past the completed sequence, or -1."""
        if not self.keys:
            return -1
        for i, b in enumerate(data):
            if b == self.keys[self._matched]:
                self._matched += 1
                if self._matched == len(self.keys):
                    self._matched = 0
                    return i + 1
            else:
                self._matched = 0
        return -1
