"""``docker diff`` and ``docker export``: a container's filesystem against its image.

Changes are read from the overlay snapshot's upper directory: a whiteout
(a 0:0 character device) is a deletion, an entry that also exists in a
lower layer is a change, anything else an addition — Docker's ``Kind``
0 (C), 1 (A), 2 (D). Export writes the merged tree as one tar through the
image service (``images.export``), from a thread into a pipe.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from typing import Any

from .base import EngineBase
from .errors import NotImplementedByDriver

MODIFIED, ADDED, DELETED = 0, 1, 2
# Mount points the runtime creates for the engine's own bind mounts (Docker
# keeps them in a hidden "-init" layer); not the user's changes.
_OURS = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def _layers(mounts: list[Any]) -> tuple[str, list[str]]:
    for m in mounts:
        if m.type == "overlay":
            upper, lowers = "", []
            for opt in m.options:
                if opt.startswith("upperdir="):
                    upper = opt.split("=", 1)[1]
                elif opt.startswith("lowerdir="):
                    lowers = opt.split("=", 1)[1].split(":")
            if upper:
                return upper, lowers
    raise NotImplementedByDriver("diff needs the overlay snapshotter")


def walk_changes(upper: str, lowers: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def in_lower(rel: str) -> bool:
        return any(os.path.lexists(os.path.join(low, rel)) for low in lowers)

    for dirpath, dirnames, filenames in os.walk(upper):
        rel_dir = os.path.relpath(dirpath, upper)
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(full)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                out.append({"Path": "/" + rel, "Kind": DELETED})
            else:
                out.append({"Path": "/" + rel, "Kind": MODIFIED if in_lower(rel) else ADDED})
    hidden = {c["Path"] for c in out if c["Path"] in _OURS and c["Kind"] == ADDED}
    kept = [c for c in out if c["Path"] not in hidden]
    parents = {os.path.dirname(p) for p in hidden}
    kept = [c for c in kept if not (c["Path"] in parents and c["Kind"] == MODIFIED and not any(
        o["Path"].startswith(c["Path"] + "/") for o in kept))]
    return sorted(kept, key=lambda c: c["Path"])


class ChangesMixin(EngineBase):
    async def changes(self, ref: str) -> list[dict[str, Any]]:
        rec = self.get(ref).record
        mounts = await asyncio.to_thread(self.images.snapshotter.mounts, rec.SnapshotKey)
        upper, lowers = _layers(mounts)
        return await asyncio.to_thread(walk_changes, upper, lowers)

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        """The container's merged filesystem as a tar stream."""
        rec = self.get(ref).record
        mounts = await asyncio.to_thread(self.images.snapshotter.mounts, rec.SnapshotKey)
        r, w = os.pipe()

        def write() -> None:
            with open(w, "wb") as f:
                try:
                    self.images.export(mounts, f)
                except BrokenPipeError:
                    pass  # the client went away

        task = asyncio.ensure_future(asyncio.to_thread(write))
        try:
            while chunk := await asyncio.to_thread(os.read, r, 1 << 16):
                yield chunk
        finally:
            os.close(r)
            await task
