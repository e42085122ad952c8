"""Snapshotters and layers: containerd's snapshotters and its diff service.

A *snapshot* is a directory tree identified by a *key*. ``prepare(key,
parent)`` makes an **Active** (writable) snapshot on top of a committed
parent and returns the mounts that show it; ``commit(name, key)`` freezes an
active snapshot into a **Committed** one under ``name`` (which can then be a
parent); ``view(key, parent)`` is a read-only **View** of a committed
snapshot. This is containerd's model, so an image's layers unpack as a chain
of committed snapshots named by their chain IDs, and every container gets an
active snapshot on top of its image's last one.

Snapshotters (every built-in is listed in ``BUILTINS``; pick one with
``new_snapshotter(name, root)``):

- ``overlay`` (default): committed layers are directories shared by every
  image and container built on them; an active snapshot is an overlayfs
  upper dir on its parent chain. Only the upper dir costs space.
- ``native``: plain copies (``prepare`` copies the parent's tree), for
  filesystems where overlayfs can't be used (overlay on overlay, some FUSE).

Layers (``apply.py``, ``diff.py``):

- ``apply_layer(stream, dest, ...)``: unpack one layer (gzip, zstd or plain
  tar, by media type or by magic bytes) into a directory, translating
  whiteouts to overlay's own form or to real deletions; refuses entries
  that try to escape. ``apply_layer_to_mounts(stream, mounts, ...)`` picks
  the right form for a snapshot's mounts without mounting anything.
- ``diff(lower, upper, out, ...)``: the tar of what changed (with
  ``.wh.`` whiteouts), for ``docker commit``, the builder and ``save``;
  ``diff_snapshot(sn, key, out)`` for an active snapshot against its parent.

Mounts: ``Mount`` mirrors the OCI runtime spec's mount (type, source,
options); ``mount_all(mounts, target)`` / ``unmount_all(target)`` do it for
real.

Modules: ``storage.py`` (what both snapshotters share: SQLite metadata,
crash-safe directories, cleanup at open), ``overlay.py``, ``native.py``,
``mount.py`` (mounting, the one-page lowerdir limit), ``compression.py``
(gzip via isal, zstd, detection, hashing readers/writers), ``apply.py``,
``diff.py``, ``errors.py`` (the error tree).

Imports from dockyard: ``linux`` only (``oci`` for media type names). Must
never import ``images``, ``content`` or anything above them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.snapshot.mount import Mount, mount_all, unmount_all


class Kind(enum.StrEnum):
    """The kind of a snapshot, named as containerd names them."""

    ACTIVE = "Active"
    COMMITTED = "Committed"
    VIEW = "View"


@dataclass(frozen=True, slots=True)
class Info:
    """What ``stat`` and ``walk`` return about one snapshot.

    ``name`` is the key (for an active or view snapshot) or the committed
    name; ``parent`` the committed name it sits on ("" for none).
    ``created``/``updated`` are UNIX times (float seconds).
    """

    kind: Kind
    name: str
    parent: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0


@dataclass(frozen=True, slots=True)
class Usage:
    """Disk used by one snapshot *itself* (not its parents), like
    containerd's ``Usage``: bytes and inodes."""

    size: int = 0
    inodes: int = 0


class Snapshotter(Protocol):
    """The contract every snapshotter keeps (containerd's ``Snapshotter``).

    Keys and names are non-empty strings of at most 1024 characters. Each
    method either does all it says or raises and changes nothing; a crash
    (kill -9) at any point leaves a state the next ``new_snapshotter`` on
    the same root cleans up (half-made snapshots are removed at open).
    Thread-safe; several processes may share one root (SQLite WAL).
    """

    name: str  # "overlay" | "native"
    root: str

    def stat(self, key: str) -> Info:
        """NotFoundError if there is no snapshot ``key``."""

    def update(self, key: str, labels: Mapping[str, str | None]) -> Info:
        """Set labels (a ``None`` value removes the label); returns the new Info."""

    def usage(self, key: str) -> Usage:
        """Space used by the snapshot's own layer (active: computed now)."""

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of an active or view snapshot (FailedPreconditionError
        for a committed one)."""

    def parent_mounts(self, key: str) -> list[Mount]:
        """Read-only mounts showing the parent of ``key`` (``[]`` for none),
        as a view would, without making one: the ``lower`` for ``diff``."""

    def prepare(
        self, key: str, parent: str = "", labels: Mapping[str, str] | None = None
    ) -> list[Mount]:
        """New active (writable) snapshot ``key`` on committed ``parent``.

        AlreadyExistsError if ``key`` exists; NotFoundError if ``parent``
        does not; FailedPreconditionError if ``parent`` is not committed.
        """

    def view(
        self, key: str, parent: str = "", labels: Mapping[str, str] | None = None
    ) -> list[Mount]:
        """New read-only view ``key`` of committed ``parent``."""

    def commit(self, name: str, key: str, labels: Mapping[str, str] | None = None) -> None:
        """Freeze active snapshot ``key`` as committed ``name``; ``key`` is
        gone afterwards. Labels of the active snapshot carry over, updated
        by ``labels``."""

    def remove(self, key: str) -> None:
        """Remove a snapshot; FailedPreconditionError if others build on it."""

    def walk(self, *, parent: str | None = None, kind: Kind | None = None) -> list[Info]:
        """Every snapshot (sorted by name), optionally only the children of
        ``parent`` or those of one kind."""

    def cleanup(self) -> int:
        """Remove directories no snapshot owns (a crash's leftovers); returns
        how many. Runs at open too."""

    def close(self) -> None: ...


def new_snapshotter(name: str, root: str) -> Snapshotter:
    """The snapshotter ``name`` keeping its state under ``root`` (created if
    missing). Every built-in is listed in ``BUILTINS``."""
    from dockyard.snapshot.errors import InvalidArgumentError

    try:
        factory = BUILTINS[name]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown snapshotter {name!r} (expected one of: {', '.join(sorted(BUILTINS))})"
        ) from None
    return factory(root)


def _overlay(root: str) -> Snapshotter:
    from dockyard.snapshot.overlay import OverlaySnapshotter

    return OverlaySnapshotter(root)


def _native(root: str) -> Snapshotter:
    from dockyard.snapshot.native import NativeSnapshotter

    return NativeSnapshotter(root)


# containerd's builtins.go: every snapshotter, by name, in one place.
BUILTINS = {
    "overlay": _overlay,
    "native": _native,
}
DEFAULT = "overlay"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds against decompression bombs for one layer: total uncompressed
    tar bytes and number of entries. Defaults fit any real image (the
    largest public layers are a few GiB) and stop a bomb long before a disk
    fills. (Here rather than in ``apply`` so callers can hold one without
    importing the layer machinery.)"""

    max_bytes: int = 64 << 30
    max_entries: int = 5_000_000


# The layer API lives in its own modules; re-exported here so callers write
# ``from dockyard.snapshot import apply_layer``. (Eagerly: ``diff`` is both a
# submodule and a function, and importing the submodule rebinds the
# package's name, so a lazy re-export would sometimes hand out the module.
# The costly part, the gzip/zstd codecs, is imported by ``compression`` only
# when a stream needs it.)
from dockyard.snapshot.apply import ApplyResult, apply_layer, apply_layer_to_mounts  # noqa: E402
from dockyard.snapshot.diff import DiffResult, diff, diff_snapshot  # noqa: E402

__all__ = [
    "BUILTINS",
    "DEFAULT",
    "ApplyResult",
    "DiffResult",
    "Info",
    "Kind",
    "Limits",
    "Mount",
    "Snapshotter",
    "Usage",
    "apply_layer",
    "apply_layer_to_mounts",
    "diff",
    "diff_snapshot",
    "mount_all",
    "new_snapshotter",
    "unmount_all",
]
