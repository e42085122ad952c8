"""Overlay-specific behaviour: its on-disk form and where it can't work."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from snapshot_helpers import Entry, MountFn, make_tar, mount_at

from dockyard.snapshot import Mount, apply_layer_to_mounts, new_snapshotter
from dockyard.snapshot.errors import SnapshotError

pytestmark = pytest.mark.needs_root


def test_on_disk_form_and_sharing(tmp_path: Path, mounted: MountFn) -> None:
    sn = new_snapshotter("overlay", str(tmp_path / "root"))
    try:
        m = sn.prepare("ex")
        assert m == [Mount("bind", f"{sn.root}/snapshots/1/fs", ("rw", "rbind"))]
        apply_layer_to_mounts(io.BytesIO(make_tar([Entry("a", data=b"1"),
                                                   Entry("d/x", data=b"2")])), m)
        sn.commit("base", "ex")
        m = sn.prepare("ex2", "base")
        (ovl,) = m
        assert ovl.type == "overlay"
        assert ovl.option("lowerdir") == f"{sn.root}/snapshots/1/fs"
        assert ovl.option("upperdir") == f"{sn.root}/snapshots/2/fs"
        apply_layer_to_mounts(io.BytesIO(make_tar([
            Entry(".wh.a"), Entry("d", type=b"5", mode=0o755), Entry("d/.wh..wh..opq")])), m)
        sn.commit("top", "ex2")
        upper = Path(sn.root, "snapshots/2")
        assert not (upper / "work").exists()  # a committed layer needs no work dir
        wh = os.lstat(upper / "fs/a")
        assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
        assert os.getxattr(upper / "fs/d", "trusted.overlay.opaque") == b"y"

        # Two containers on one image share its layer directories.
        c1, c2 = sn.prepare("c1", "top"), sn.prepare("c2", "top")
        assert c1[0].lowerdirs() == c2[0].lowerdirs() == [
            f"{sn.root}/snapshots/2/fs", f"{sn.root}/snapshots/1/fs"]
        r1, r2 = mounted(c1), mounted(c2)
        Path(r1, "only-in-c1").write_text("x")
        assert os.listdir(r2) == ["d"] and sorted(os.listdir(r1)) == ["d", "only-in-c1"]
    finally:
        sn.close()


def test_overlay_on_overlay_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    base = tmp_path / "o"
    for d in ("l", "u", "w", "m"):
        (base / d).mkdir(parents=True)
    outer = Mount("overlay", "overlay", (f"lowerdir={base}/l", f"upperdir={base}/u",
                                         f"workdir={base}/w"))
    with mount_at([outer], str(base / "m")):
        with pytest.raises(SnapshotError, match="overlayfs cannot be used .* native"):
            new_snapshotter("overlay", str(base / "m" / "root"))
        native = new_snapshotter("native", str(base / "m" / "root2"))
        try:
            assert native.prepare("a")[0].type == "bind"
        finally:
            native.close()
