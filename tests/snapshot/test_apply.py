"""Layer apply: formats, metadata, whiteouts in both forms, digests."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard
from isal import igzip
from snapshot_helpers import CAP_NET_BIND, ROOTFS, Entry, make_tar

from dockyard.snapshot import Mount, apply_layer, mount_all, unmount_all
from dockyard.snapshot.errors import UnsupportedLayerError

pytestmark = pytest.mark.needs_root

def _compress(raw: bytes, how: str) -> bytes:
    if how == "gzip":
        return igzip.compress(raw)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


@pytest.mark.parametrize("how", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("by", ["magic", "media_type"])
def test_rootfs_layer_every_entry_kind(how: str, by: str, tmp_path: Path) -> None:
    raw = make_tar(ROOTFS)
    blob = _compress(raw, how)
    media = {
        "none": "application/vnd.oci.image.layer.v1.tar",
        "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    }[how]
    dest = tmp_path / "root"
    dest.mkdir()
    r = apply_layer(io.BytesIO(blob), str(dest), media_type=media if by == "media_type" else None)
    assert r.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert r.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert (r.size, r.compressed_size, r.compression) == (len(raw), len(blob), how)
    assert r.entries == len(ROOTFS)

    st = os.lstat(dest / "bin/busybox")
    assert stat.S_IMODE(st.st_mode) == 0o755 and int(st.st_mtime) == 1_600_000_000
    assert os.readlink(dest / "bin/sh") == "/bin/busybox"  # absolute: fine as a link
    assert os.lstat(dest / "bin/ls").st_ino == st.st_ino and st.st_nlink == 2
    ping = os.lstat(dest / "bin/ping")
    assert stat.S_IMODE(ping.st_mode) == 0o4755  # setuid kept (chmod after chown)
    assert os.getxattr(dest / "bin/ping", "security.capability") == CAP_NET_BIND
    null = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    sda = os.lstat(dest / "dev/sda")
    assert stat.S_ISBLK(sda.st_mode) and sda.st_rdev == os.makedev(8, 0) and sda.st_gid == 6
    assert stat.S_ISFIFO(os.lstat(dest / "run/fifo").st_mode)
    home = os.lstat(dest / "home/user")
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (1000, 1000, 0o700)
    assert int(home.st_mtime) == 1_500_000_000  # dir mtimes set after their contents
    assert os.getxattr(dest / "home/user/.profile", "user.note") == b"\xff\x00binary"
    assert stat.S_IMODE(os.lstat(dest / "tmp").st_mode) == 0o1777
    assert (dest / "ünïcode-名前").read_bytes() == b"u"
    assert stat.S_IMODE(os.lstat(dest / "home").st_mode) == 0o755  # implied parent


def test_unknown_media_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedLayerError, match="application/x-nope"):
        apply_layer(io.BytesIO(make_tar([])), str(tmp_path), media_type="application/x-nope")


def test_empty_layers(tmp_path: Path) -> None:
    assert apply_layer(io.BytesIO(b""), str(tmp_path)).entries == 0
    r = apply_layer(io.BytesIO(igzip.compress(make_tar([]))), str(tmp_path))
    assert r.entries == 0 and r.compression == "gzip"
    assert os.listdir(tmp_path) == []


def test_replacing_entries(tmp_path: Path) -> None:
    """A later layer replaces a dir by a file, a file by a dir, a symlink by
    a file (without writing through the old link)."""
    dest = tmp_path / "root"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.write_text("host")
    apply_layer(io.BytesIO(make_tar([
        Entry("d/x", data=b"1"),
        Entry("f", data=b"2"),
        Entry("link", type=tarfile.SYMTYPE, linkname=str(outside)),
    ])), str(dest))
    apply_layer(io.BytesIO(make_tar([
        Entry("d", data=b"now a file"),
        Entry("f", type=tarfile.DIRTYPE, mode=0o755),
        Entry("f/y", data=b"3"),
        Entry("link", data=b"replaced"),
    ])), str(dest))
    assert (dest / "d").read_bytes() == b"now a file"
    assert (dest / "f/y").read_bytes() == b"3"
    assert not (dest / "link").is_symlink() and (dest / "link").read_bytes() == b"replaced"
    assert outside.read_text() == "host"


def test_whiteouts_delete_mode(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    dest.mkdir()
    apply_layer(io.BytesIO(make_tar([
        Entry("a", data=b"1"), Entry("d/x", data=b"2"), Entry("d/sub/y", data=b"3"),
        Entry("keep/k", data=b"4"),
    ])), str(dest))
    apply_layer(io.BytesIO(make_tar([
        Entry(".wh.a"),
        Entry("d", type=tarfile.DIRTYPE, mode=0o750),
        Entry("d/-early", data=b"written before the opaque mark"),
        Entry("d/.wh..wh..opq"),
        Entry("d/new", data=b"n"),
        Entry("keep/.wh.missing"),  # deleting what isn't there is fine
        Entry("nodir/.wh.x"),
        Entry(".wh..wh.plnk"),  # aufs bookkeeping: ignored
    ])), str(dest))
    assert sorted(os.listdir(dest)) == ["d", "keep"]
    assert sorted(os.listdir(dest / "d")) == ["-early", "new"]
    assert stat.S_IMODE(os.lstat(dest / "d").st_mode) == 0o750
    assert os.listdir(dest / "keep") == ["k"]


def test_whiteouts_overlay_mode(tmp_path: Path) -> None:
    """Applied onto an upper dir: overlay's marks, and through a real
    overlay mount the merged tree is what the layers mean."""
    lower, upper, work, mnt = (tmp_path / n for n in ("lower", "upper", "work", "mnt"))
    for p in (lower, upper, work, mnt):
        p.mkdir()
    apply_layer(io.BytesIO(make_tar([
        Entry("a", data=b"1"),
        Entry("etc", type=tarfile.DIRTYPE, mode=0o711, uid=5, gid=6),
        Entry("etc/conf", data=b"c"),
        Entry("d/x", data=b"2"),
        Entry("d/y", data=b"3"),
    ])), str(lower))
    apply_layer(io.BytesIO(make_tar([
        Entry(".wh.a"),
        Entry("etc/new", data=b"n"),  # parent only in the lower: copied up
        Entry("d", type=tarfile.DIRTYPE, mode=0o755),
        Entry("d/.wh..wh..opq"),
        Entry("d/z", data=b"z"),
    ])), str(upper), whiteouts="overlay", lowers=[str(lower)])
    wh = os.lstat(upper / "a")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(upper / "d", "trusted.overlay.opaque") == b"y"
    etc = os.lstat(upper / "etc")
    assert (etc.st_uid, etc.st_gid, stat.S_IMODE(etc.st_mode)) == (5, 6, 0o711)
    assert not (upper / "etc/conf").exists()

    m = Mount("overlay", "overlay", (f"lowerdir={lower}", f"upperdir={upper}", f"workdir={work}"))
    mount_all([m], str(mnt))
    try:
        assert sorted(os.listdir(mnt)) == ["d", "etc"]
        assert sorted(os.listdir(mnt / "etc")) == ["conf", "new"]
        assert os.listdir(mnt / "d") == ["z"]
    finally:
        unmount_all(str(mnt))


def test_mtime_precision_from_pax(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("f")
        ti.pax_headers = {"mtime": "1700000000.123456789"}
        tf.addfile(ti, io.BytesIO(b""))
    apply_layer(io.BytesIO(buf.getvalue()), str(tmp_path))
    assert os.lstat(tmp_path / "f").st_mtime_ns == 1_700_000_000_123_456_789
