"""Network records on disk: one JSON document, replaced atomically.

``<root>/network/networks.json`` holds every network with its endpoints
(and so every IP allocation and published port). It is small (a record per
network), written whole with ``linux.atomic.write_bytes`` (temp + fsync +
rename) under an ``flock`` so two processes sharing a root never interleave:
a ``kill -9`` leaves the old document or the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

import msgspec

from dockyard.linux.atomic import cleanup_temps, write_bytes

from .model import Network


class Store:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "network")
        os.makedirs(self.dir, exist_ok=True)
        cleanup_temps(self.dir)
        self.path = os.path.join(self.dir, "networks.json")
        self._lock_path = os.path.join(self.dir, ".lock")
        self._written: tuple[int, int, int] | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def load(self) -> dict[str, Network]:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        nets = msgspec.json.decode(data, type=list[Network])
        return {n.Id: n for n in nets}

    def save(self, nets: dict[str, Network]) -> None:
        write_bytes(self.path, msgspec.json.encode(sorted(nets.values(), key=lambda n: n.Created)),
                    0o600)
        self._written = self._stamp()

    def unchanged(self) -> bool:
        """Whether the document on disk is still the one this Store last saved
        (each save renames a new file in: another writer changes the stamp)."""
        return self._written is not None and self._stamp() == self._written

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size
