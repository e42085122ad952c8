"""Layer diff: apply(diff(x)) reproduces x, on every snapshotter."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from snapshot_helpers import Entry, MountFn, make_tar, tree_state

from dockyard.snapshot import (
    Snapshotter,
    apply_layer,
    apply_layer_to_mounts,
    diff,
    diff_snapshot,
)

pytestmark = pytest.mark.needs_root

CAP = bytes.fromhex("0000000200040000000000000000000000000000")

BASE = [
    Entry("etc", type=tarfile.DIRTYPE, mode=0o755),
    Entry("etc/hosts", data=b"127.0.0.1 localhost\n"),
    Entry("etc/same-size", data=b"AAAA"),
    Entry("etc/mode", data=b"m", mode=0o644),
    Entry("etc/owner", data=b"o"),
    Entry("gone", data=b"delete me"),
    Entry("gonedir/a", data=b"a"),
    Entry("gonedir/sub/b", data=b"b"),
    Entry("opq/old1", data=b"1"),
    Entry("opq/old2", data=b"2"),
    Entry("keep/deep/file", data=b"untouched"),
    Entry("bin/busybox", data=b"bb", mode=0o755),
    Entry("bin/sh", type=tarfile.SYMTYPE, linkname="busybox"),
]


def _change(root: str) -> None:
    """What a container might do to its root filesystem."""
    r = Path(root)
    (r / "etc/hosts").write_text("10.0.0.1 db\n")
    (r / "etc/same-size").write_bytes(b"BBBB")  # same size: content decides
    os.utime(r / "etc/same-size", (1_700_000_000, 1_700_000_000))  # and the same mtime
    os.chmod(r / "etc/mode", 0o600)
    os.chown(r / "etc/owner", 1000, 1000)
    os.unlink(r / "gone")
    shutil.rmtree(r / "gonedir")
    shutil.rmtree(r / "opq")
    os.mkdir(r / "opq")
    (r / "opq/fresh").write_text("f")
    (r / "new/dir").mkdir(parents=True)
    (r / "new/dir/file").write_bytes(b"\0" * 100_000)
    os.link(r / "new/dir/file", r / "new/hard")
    (r / "ping").write_bytes(b"p")
    os.chmod(r / "ping", 0o4755)
    os.setxattr(r / "ping", "security.capability", CAP)
    os.setxattr(r / "new/dir", "user.k", b"v")
    os.mknod(r / "null", 0o20666, os.makedev(1, 3))
    os.mkfifo(r / "fifo")
    os.symlink("/etc/hosts", r / "abs-link")
    os.rename(r / "bin/sh", r / "bin/ash")


def _order(name: str) -> list[bytes]:
    """Bytewise per component; a whiteout sits where its name would, the
    opaque mark right after its directory."""
    key = []
    for part in name.split("/"):
        if part == ".wh..wh..opq":
            part = ""
        elif part.startswith(".wh."):
            part = part[4:]
        key.append(os.fsencode(part))
    return key


def test_round_trip(sn: Snapshotter, mounted: MountFn) -> None:
    m = sn.prepare("ex-base")
    apply_layer_to_mounts(io.BytesIO(make_tar(BASE)), m)
    sn.commit("base", "ex-base")

    ctr = sn.prepare("ctr", "base")
    root = mounted(ctr)
    _change(root)
    expected = tree_state(root)

    view = sn.view("base-view", "base")
    out = io.BytesIO()
    r = diff(view, ctr, out, compression="gzip")
    names = [t.name for t in tarfile.open(fileobj=io.BytesIO(out.getvalue()))]
    assert ".wh.gone" in names and ".wh.gonedir" in names
    assert "keep/deep/file" not in names and "bin/busybox" not in names
    assert names.count("new/dir/file") == 1 and "new/hard" in names
    if sn.name == "overlay":
        assert "opq/.wh..wh..opq" in names
    else:
        assert {"opq/.wh.old1", "opq/.wh.old2"} <= set(names)
    assert names == sorted(names, key=_order)  # Go's filepath.Walk order, as Docker
    assert names.index("etc") < names.index("etc/hosts")  # parents first

    # Deterministic: the same changes give the same bytes.
    again = io.BytesIO()
    assert diff(view, ctr, again, compression="gzip").digest == r.digest
    assert again.getvalue() == out.getvalue()
    # ... and so does diffing against the parent without making a view.
    assert diff_snapshot(sn, "ctr", io.BytesIO()).digest == r.digest

    # apply(diff(x)) == x, through a fresh snapshot on the same parent.
    re = sn.prepare("re", "base")
    applied = apply_layer_to_mounts(io.BytesIO(out.getvalue()), re)
    assert (applied.diff_id, applied.digest) == (r.diff_id, r.digest)
    sn.commit("re-c", "re")
    got = tree_state(mounted(sn.view("re-view", "re-c")))
    assert got == expected


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_whole_tree_round_trip_of_a_busybox_rootfs(
    compression: str, busybox_rootfs_template: Path, tmp_path: Path
) -> None:
    out = io.BytesIO()
    r = diff(None, str(busybox_rootfs_template), out, compression=compression)  # type: ignore[arg-type]
    assert r.size == len(out.getvalue())
    assert (r.diff_id == r.digest) == (compression == "none")
    dest = tmp_path / "copy"
    dest.mkdir()
    a = apply_layer(io.BytesIO(out.getvalue()), str(dest))
    assert (a.diff_id, a.digest, a.size) == (r.diff_id, r.digest, r.uncompressed_size)
    assert tree_state(str(dest)) == tree_state(str(busybox_rootfs_template))


def test_tar_has_pax_xattrs_and_no_names(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    os.chown(src / "f", 1234, 5678)  # before: chown clears security.capability
    os.setxattr(src / "f", "security.capability", CAP)
    out = io.BytesIO()
    diff(None, str(src), out, compression="none")
    (ti,) = tarfile.open(fileobj=io.BytesIO(out.getvalue()), encoding="utf-8",
                         errors="surrogateescape").getmembers()
    assert ti.pax_headers["SCHILY.xattr.security.capability"].encode(
        "utf-8", "surrogateescape") == CAP
    assert (ti.uid, ti.gid, ti.uname, ti.gname) == (1234, 5678, "", "")


def test_a_busybox_shell_changes_a_snapshot_and_commit_captures_it(
    sn: Snapshotter, mounted: MountFn, busybox_rootfs_template: Path
) -> None:
    """The docker-commit flow: image layer unpacked, a real process changes
    the container's root through its mount, the diff holds exactly that."""
    layer = io.BytesIO()
    diff(None, str(busybox_rootfs_template), layer, compression="gzip")
    m = sn.prepare("ex")
    apply_layer_to_mounts(io.BytesIO(layer.getvalue()), m)
    sn.commit("image", "ex")

    root = mounted(sn.prepare("ctr", "image"))
    subprocess.run(
        ["chroot", root, "/bin/sh", "-c",
         "echo hi > /tmp/x && rm /etc/group && mkdir -p /var/lib/app && ln -s /tmp/x /var/lib/app/l"],
        check=True,
    )
    out = io.BytesIO()
    r = diff_snapshot(sn, "ctr", out, compression="zstd")
    names = _names_zstd(out.getvalue())
    assert {"tmp/x", "etc/.wh.group", "var/lib/app/l"} <= set(names)
    assert "bin/busybox" not in names

    sn.commit("committed", "ctr")
    m2 = sn.prepare("ex2", "image")
    applied = apply_layer_to_mounts(io.BytesIO(out.getvalue()), m2)
    assert applied.diff_id == r.diff_id
    sn.commit("replayed", "ex2")
    a = tree_state(mounted(sn.view("va", "committed")))
    b = tree_state(mounted(sn.view("vb", "replayed")))
    assert a == b and "etc/group" not in a and os.path.join("tmp", "x") in a


def _names_zstd(blob: bytes) -> list[str]:
    import zstandard

    raw = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return [t.name for t in tarfile.open(fileobj=io.BytesIO(raw))]
