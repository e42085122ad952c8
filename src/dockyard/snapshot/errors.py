"""Errors of the snapshot package.

    SnapshotError
    ├── NotFoundError              no snapshot with that key/name
    ├── AlreadyExistsError         a key/name already taken
    ├── FailedPreconditionError    wrong kind (commit of a view, parent not
    │                              committed), or children still build on it
    ├── InvalidArgumentError       a bad key, snapshotter name, option…
    └── LayerError                 a layer that cannot be applied or written
        ├── UnsafeEntryError       an entry that would escape the root or
        │                          write through a link (names the entry)
        ├── CorruptLayerError      truncated/corrupt tar or compressed stream
        ├── LayerTooLargeError     over the configured limits (decompression bomb)
        └── UnsupportedLayerError  unknown media type / compression

The engine maps NotFoundError to 404, AlreadyExistsError and
FailedPreconditionError to 409, everything else to 400 (bad input) or 500.
"""

from __future__ import annotations


class SnapshotError(Exception):
    """Base of the snapshot package's errors."""


class NotFoundError(SnapshotError, KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class AlreadyExistsError(SnapshotError):
    pass


class FailedPreconditionError(SnapshotError):
    pass


class InvalidArgumentError(SnapshotError, ValueError):
    pass


class LayerError(SnapshotError):
    """A layer that cannot be applied or produced."""


class UnsafeEntryError(LayerError):
    """A tar entry refused for safety; ``entry`` is its name in the tar."""

    def __init__(self, entry: str, reason: str) -> None:
        super().__init__(f"layer entry {entry!r} refused: {reason}")
        self.entry = entry
        self.reason = reason


class CorruptLayerError(LayerError):
    pass


class LayerTooLargeError(LayerError):
    pass


class UnsupportedLayerError(LayerError):
    pass
