"""Copy-up: a new empty volume takes the image's content, metadata and links intact."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from dockyard.volume import VolumeService
from dockyard.volume.copyup import copy_tree


@pytest.fixture
def image_dir(short_tmp: Path) -> Path:
    d = short_tmp / "rootfs" / "var" / "lib" / "app"
    (d / "conf").mkdir(parents=True)
    (d / "conf" / "app.conf").write_text("port=80\n")
    os.chown(d / "conf" / "app.conf", 1000, 1001)
    os.chmod(d / "conf" / "app.conf", 0o640)
    (d / "bin").write_bytes(b"\x7fELF" + b"\0" * 5000)
    os.chown(d / "bin", 0, 0)
    os.chmod(d / "bin", 0o4755)  # setuid must survive the copy's chown
    os.link(d / "bin", d / "bin-hardlink")
    (d / "rel-link").symlink_to("conf/app.conf")
    (d / "host-link").symlink_to("/etc/shadow")  # copied as a link, never followed
    os.setxattr(d / "bin", "user.note", b"hello")
    os.setxattr(d / "bin", "security.capability",
                bytes.fromhex("0100000200040000000000000000000000000000"))
    os.mkfifo(d / "fifo")
    os.mknod(d / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chown(d, 33, 33)
    os.chmod(d, 0o2770)
    os.utime(d / "conf" / "app.conf", ns=(1_000_000_000, 2_000_000_000))
    return d


def _check(dst: Path) -> None:
    conf = dst / "conf" / "app.conf"
    st = os.lstat(conf)
    assert conf.read_text() == "port=80\n"
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o640)
    assert st.st_mtime_ns == 2_000_000_000
    b = os.lstat(dst / "bin")
    assert stat.S_IMODE(b.st_mode) == 0o4755
    assert b.st_ino == os.lstat(dst / "bin-hardlink").st_ino and b.st_nlink == 2
    assert os.getxattr(dst / "bin", "user.note") == b"hello"
    assert os.getxattr(dst / "bin", "security.capability")[:4] == bytes.fromhex("01000002")
    assert os.readlink(dst / "rel-link") == "conf/app.conf"
    assert os.readlink(dst / "host-link") == "/etc/shadow"
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert os.lstat(dst / "null").st_rdev == os.makedev(1, 3)
    root = os.lstat(dst)
    assert (root.st_uid, root.st_gid, stat.S_IMODE(root.st_mode)) == (33, 33, 0o2770)


def test_populate_new_volume(svc: VolumeService, image_dir: Path) -> None:
    svc.create("appdata")
    path = svc.mount("appdata", "c1")
    try:
        assert svc.populate("appdata", str(image_dir)) is True
        _check(Path(path))
        # not empty any more: a second container's copy-up changes nothing
        Path(path, "conf", "app.conf").write_text("changed")
        assert svc.populate("appdata", str(image_dir)) is False
        assert Path(path, "conf", "app.conf").read_text() == "changed"
    finally:
        svc.unmount("appdata", "c1")


def test_populate_into_tmpfs_volume(svc: VolumeService, image_dir: Path) -> None:
    svc.create("tmpdata", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=4m"})
    path = svc.mount("tmpdata", "c1")
    try:
        assert svc.populate("tmpdata", str(image_dir))
        _check(Path(path))
    finally:
        svc.unmount("tmpdata", "c1")


def test_populate_skips_missing_or_non_directory_sources(svc: VolumeService,
                                                          short_tmp: Path) -> None:
    svc.create("nothing")
    svc.mount("nothing", "c1")
    try:
        assert svc.populate("nothing", str(short_tmp / "absent")) is False
        (short_tmp / "link").symlink_to("/etc")
        assert svc.populate("nothing", str(short_tmp / "link")) is False  # never follows
        assert os.listdir(svc.inspect("nothing")["Mountpoint"]) == []
    finally:
        svc.unmount("nothing", "c1")


def test_copy_tree_direct(image_dir: Path, short_tmp: Path) -> None:
    dst = short_tmp / "copy"
    dst.mkdir()
    copy_tree(str(image_dir), str(dst))
    _check(dst)


def test_deep_tree_and_directory_times(short_tmp: Path) -> None:
    src, dst = str(short_tmp / "deep-src"), str(short_tmp / "deep-dst")
    depth = 1100  # deeper than Python's recursion limit, within PATH_MAX
    try:
        p = src
        os.mkdir(p)
        for _ in range(depth):
            p += "/d"
            os.mkdir(p)
        with open(p + "/leaf", "w") as f:
            f.write("bottom")
        os.utime(src + "/d", ns=(5_000_000_000, 6_000_000_000))
        os.mkdir(dst)
        copy_tree(src, dst)
        with open(dst + "/d" * depth + "/leaf") as f:
            assert f.read() == "bottom"
        assert os.lstat(dst + "/d").st_mtime_ns == 6_000_000_000
    finally:
        # shutil.rmtree recurses too: let rm(1) remove the deep trees
        subprocess.run(["rm", "-rf", src, dst], check=True)
