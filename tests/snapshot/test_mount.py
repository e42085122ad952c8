"""Mount: options split into flags and data, read-only binds, unmount_all."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from snapshot_helpers import mountinfo_under

from dockyard.snapshot import Mount, mount_all, unmount_all
from dockyard.snapshot.mount import is_mountpoint

pytestmark = pytest.mark.needs_root


def _options_of(target: str) -> set[str]:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == target:
                return set(fields[5].split(","))
    raise AssertionError(f"{target} is not mounted")


def test_read_only_bind_with_flags(tmp_path: Path) -> None:
    src, target = tmp_path / "src", tmp_path / "t"
    src.mkdir()
    target.mkdir()
    (src / "f").write_text("x")
    Mount("bind", str(src), ("ro", "rbind", "nosuid", "nodev")).mount(str(target))
    try:
        assert {"ro", "nosuid", "nodev"} <= _options_of(str(target))
        assert (target / "f").read_text() == "x"
        with pytest.raises(OSError) as e:
            (target / "g").write_text("no")
        assert e.value.errno == errno.EROFS
    finally:
        Mount.unmount(str(target))
    assert mountinfo_under(str(tmp_path)) == []
    assert (src / "f").read_text() == "x"


def test_mount_all_stacks_and_unmount_all_clears(tmp_path: Path) -> None:
    a, b, target = tmp_path / "a", tmp_path / "b", tmp_path / "t"
    for d in (a, b, target):
        d.mkdir()
    (a / "from-a").touch()
    (b / "from-b").touch()
    mount_all([Mount("bind", str(a)), Mount("bind", str(b), ("rw",))], str(target))
    assert os.listdir(target) == ["from-b"]
    assert len(mountinfo_under(str(target))) == 2
    unmount_all(str(target))
    assert mountinfo_under(str(tmp_path)) == []
    unmount_all(str(target))  # nothing mounted: no error


def test_failed_mount_leaves_nothing(tmp_path: Path) -> None:
    a, target = tmp_path / "a", tmp_path / "t"
    a.mkdir()
    target.mkdir()
    bad = Mount("overlay", "overlay", (f"lowerdir={tmp_path}/missing",))
    with pytest.raises(OSError):
        mount_all([Mount("bind", str(a)), bad], str(target))
    assert mountinfo_under(str(tmp_path)) == []


def test_accessors() -> None:
    m = Mount("overlay", "overlay", ("index=off", "upperdir=/u", "lowerdir=/a:/b"))
    assert m.lowerdirs() == ["/a", "/b"]
    assert m.option("upperdir") == "/u" and m.option("workdir") is None


def test_is_mountpoint_with_spaces_in_the_path(tmp_path: Path) -> None:
    a, target = tmp_path / "a", tmp_path / "with space\tand tab"
    a.mkdir()
    target.mkdir()
    assert not is_mountpoint(str(target))
    Mount("bind", str(a)).mount(str(target))
    try:
        assert is_mountpoint(str(target))
    finally:
        unmount_all(str(target))
    assert not is_mountpoint(str(target))
