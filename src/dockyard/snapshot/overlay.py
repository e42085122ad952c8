"""The overlay snapshotter (default): layers shared, containers pay for changes only.

A committed snapshot is a directory ``snapshots/<id>/fs`` holding one
layer's files (with overlay's whiteout marks). An active snapshot adds an
empty upper dir ``fs`` and a ``work`` dir, and mounts as::

    overlay  lowerdir=<parent fs>:<grandparent fs>:…,upperdir=<fs>,workdir=<work>

so every image and container built on a layer reads the same directory.
With no parent it is a plain bind mount of ``fs``. A view is read-only:
a read-only bind of its parent's ``fs`` when the parent has no parent,
else an overlay of the chain with no upper dir (read-only by nature).

Layers are applied straight into the upper dir (``apply_layer_to_mounts``),
with whiteouts in overlay's own form; no mount is needed to unpack.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from dockyard.linux.atomic import write_bytes
from dockyard.snapshot import Kind, Mount
from dockyard.snapshot.errors import SnapshotError
from dockyard.snapshot.mount import unmount_all
from dockyard.snapshot.storage import Base, Row

_PARAMS = "/sys/module/overlay/parameters"


def _host_default_on(param: str) -> bool:
    try:
        with open(os.path.join(_PARAMS, param)) as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def _index_option() -> list[str]:
    # index=on (a host default on some distros) ties a lower dir to the
    # first overlay that used it, and a second mount of the same lowers
    # fails with EBUSY: layers are shared here, so say off when the kernel
    # knows the option (4.13+), as containerd does.
    opts = ["index=off"] if os.path.exists(os.path.join(_PARAMS, "index")) else []
    # redirect_dir and metacopy make the upper dir hold pointers into the
    # lower layers instead of copies, and its tar (``diff``) would be wrong.
    # Only named when the host turned them on by default (old kernels
    # refuse options they don't know).
    for feature in ("redirect_dir", "metacopy"):
        if _host_default_on(feature):
            opts.append(f"{feature}=off")
    return opts


_CHECKED: set[str] = set()
_MARKER = "overlay-check"  # under the root: "<kernel release> <st_dev of the root>"


def _probe_key(root: str) -> str:
    # What decides whether overlay works here: the kernel and the filesystem
    # under the root (a different device means a different filesystem).
    return f"{os.uname().release} {os.stat(root).st_dev}"


def check_overlay_support(root: str) -> None:
    """Mount a two-layer overlay under ``root`` once, like containerd's init
    check: overlay on overlay, or on a filesystem without d_type or xattrs,
    fails here with a clear message instead of at the first container.

    Once per process and root; a success is also remembered in a marker
    file under ``root`` keyed by the kernel release and the root's device,
    so later processes skip the mount (a new kernel or a root moved to
    another filesystem probes again)."""
    if root in _CHECKED:
        return
    marker = os.path.join(root, _MARKER)
    key = _probe_key(root)
    try:
        with open(marker, encoding="utf-8") as f:
            if f.read() == key:
                _CHECKED.add(root)
                return
    except (OSError, UnicodeDecodeError):
        pass
    probe = tempfile.mkdtemp(prefix="check-", dir=root)
    try:
        for d in ("l1", "l2", "u", "w", "m"):
            os.mkdir(os.path.join(probe, d))
        m = Mount("overlay", "overlay", (
            *_index_option(),
            f"lowerdir={probe}/l1:{probe}/l2", f"upperdir={probe}/u", f"workdir={probe}/w",
        ))
        try:
            m.mount(os.path.join(probe, "m"))
        except OSError as e:
            raise SnapshotError(
                f"overlayfs cannot be used on {root} ({os.strerror(e.errno or 0)}); "
                f"use the native snapshotter there"
            ) from None
        unmount_all(os.path.join(probe, "m"))
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    # Not synced: a marker lost in a power cut only means one more probe.
    write_bytes(marker, key.encode(), sync=False)
    _CHECKED.add(root)


class OverlaySnapshotter(Base):
    name = "overlay"

    def __init__(self, root: str) -> None:
        super().__init__(root)
        check_overlay_support(self.root)

    def _populate(self, staging: str, kind: Kind, chain: list[Row]) -> None:
        os.mkdir(os.path.join(staging, "fs"), 0o755)
        if kind == Kind.ACTIVE and chain:
            os.mkdir(os.path.join(staging, "work"), 0o711)

    def _lower_mounts(self, chain: list[Row]) -> list[Mount]:
        if len(chain) == 1:
            return [Mount("bind", self.fs(chain[0]), ("ro", "rbind"))]
        lowers = ":".join(self.fs(p) for p in chain)
        return [Mount("overlay", "overlay", (*_index_option(), f"lowerdir={lowers}"))]

    def _mounts(self, row: Row, chain: list[Row]) -> list[Mount]:
        if row.kind == Kind.VIEW:
            if not chain:
                return [Mount("bind", self.fs(row), ("ro", "rbind"))]
            return self._lower_mounts(chain)
        if not chain:
            return [Mount("bind", self.fs(row), ("rw", "rbind"))]
        lowers = ":".join(self.fs(p) for p in chain)
        return [Mount("overlay", "overlay", (
            *_index_option(),
            f"workdir={os.path.join(self.path(row), 'work')}",
            f"upperdir={self.fs(row)}",
            f"lowerdir={lowers}",
        ))]

    def _committed(self, row: Row) -> None:
        # The work dir is overlay's scratch space for the upper dir of a
        # mounted active snapshot; a committed layer is only ever a lower.
        shutil.rmtree(os.path.join(self.path(row), "work"), ignore_errors=True)
