"""Volume names: Docker's rule, and the names anonymous volumes get.

Docker accepts ``[a-zA-Z0-9][a-zA-Z0-9_.-]+`` for a local volume (at least
two characters, starting alphanumeric), so a name never holds ``/`` and is
never ``.`` or ``..``: it is always one plain directory entry under
``<root>/volumes``. Anonymous volumes get 64 hex characters, like a
container id, and the label Docker (>= 23) marks them with, which is what
``volume prune`` without ``--all`` looks for.
"""

from __future__ import annotations

import re
import secrets

from .errors import InvalidParameter

NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
# Our own files beside the volume directories (store.py's database).
RESERVED = ("metadata.db", "metadata.db-wal", "metadata.db-shm", "metadata.db-journal")


def validate_name(name: str) -> None:
    """Raise ``InvalidParameter`` with Docker's wording unless ``name`` is a valid volume name."""
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > 255:
        raise InvalidParameter(
            f"create {name}: {name!r} includes invalid characters for a local volume name, "
            f"only {NAME_CHARS!r} are allowed. If you intended to pass a host directory, "
            "use absolute path"
        )
    if name in RESERVED:
        raise InvalidParameter(f"create {name}: {name!r} is reserved (the volume database "
                               "lives under that name)")


def new_anonymous_name() -> str:
    return secrets.token_hex(32)


def is_anonymous_name(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)
