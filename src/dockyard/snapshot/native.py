"""The native snapshotter: every snapshot is a full, plain copy.

For filesystems where overlayfs can't be used (an overlay root, some FUSE
or network filesystems). ``prepare``/``view`` copy the parent's tree —
owners, modes, timestamps, xattrs (``security.capability`` included),
hard links, device nodes, fifos, symlinks as links — with ``cp -a``, which
does exactly that in C (a Python copy of a 100 MB rootfs takes seconds
longer). Mounts are bind mounts of ``fs`` (read-only for views).
Layers are applied into ``fs`` with whiteouts as real deletions, and a
diff is a double walk against the parent's tree.
"""

from __future__ import annotations

import os
import subprocess

from dockyard.snapshot import Kind, Mount
from dockyard.snapshot.errors import SnapshotError
from dockyard.snapshot.storage import Base, Row


class NativeSnapshotter(Base):
    name = "native"

    def _populate(self, staging: str, kind: Kind, chain: list[Row]) -> None:
        dest = os.path.join(staging, "fs")
        if not chain:
            os.mkdir(dest, 0o755)
            return
        src = self.fs(chain[0])
        # cp -a = -dR --preserve=all: no symlink is followed, hard links
        # within the tree stay linked, xattrs and devices are kept.
        proc = subprocess.run(
            ["cp", "-a", "--reflink=auto", "--no-target-directory", src, dest],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise SnapshotError(
                f"copying parent {chain[0].key!r} failed: {proc.stderr.strip()}"
            )

    def _lower_mounts(self, chain: list[Row]) -> list[Mount]:
        # A committed snapshot is a whole tree already: no copy needed.
        return [Mount("bind", self.fs(chain[0]), ("ro", "rbind"))]

    def _mounts(self, row: Row, chain: list[Row]) -> list[Mount]:
        mode = "ro" if row.kind == Kind.VIEW else "rw"
        return [Mount("bind", self.fs(row), (mode, "rbind"))]
