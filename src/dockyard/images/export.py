"""``docker export``: a filesystem (a snapshot's mounts) as one flat tar.

The mounts are mounted read-only on a private temp dir and walked by the
snapshot package's ``diff`` against nothing, which writes every file with
its ownership, mode, xattrs, hardlinks and device nodes. ``export_image``
does the same for an image's unpacked top layer through a temporary view
(``docker export`` of a container goes through ``export_mounts`` with the
container's snapshot, once the engine exists).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from dockyard.snapshot import Mount, diff, mount_all, unmount_all

if TYPE_CHECKING:
    from .service import ImageService


def export_mounts(mounts: Sequence[Mount], out: BinaryIO) -> None:
    """Write the tree ``mounts`` show to ``out`` as an uncompressed tar."""
    target = tempfile.mkdtemp(prefix="dockyard-export-")
    try:
        ro = [Mount(m.type, m.source, tuple(m.options) + (("ro",) if "ro" not in m.options else ()))
              for m in mounts]
        mount_all(ro, target)
        try:
            diff(None, target, out, compression="none")
        finally:
            unmount_all(target)
    finally:
        shutil.rmtree(target, ignore_errors=True)


def export_image(svc: ImageService, ref: str, out: BinaryIO) -> None:
    """The flattened filesystem of image ``ref`` as a tar (unpacks it if needed)."""
    top = svc.unpack(ref)
    if not top:
        # No layers: an empty filesystem is an empty tar.
        out.write(b"\0" * 1024)
        return
    key = f"export-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    mounts = svc.snapshotter.view(key, top)
    try:
        export_mounts(mounts, out)
    finally:
        svc.snapshotter.remove(key)
