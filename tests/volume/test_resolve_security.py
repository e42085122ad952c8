"""Host paths resolved safely: subpath escapes, symlinked bind sources, pins.

Each attack is a test that must fail with a clear error and touch nothing
outside what was asked for.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dockyard.volume import (
    InvalidMountSpec,
    parse_mount,
    parse_mount_flag,
    parse_volume,
    pin_subpath,
    resolve_bind_source,
    to_oci_mount,
    unpin,
)
from dockyard.volume.errors import UnsafePath
from dockyard.volume.mountinfo import count


@pytest.fixture
def vol(short_tmp: Path) -> Path:
    """A volume's data dir with a secret next to it (outside the volume)."""
    (short_tmp / "secret").mkdir()
    (short_tmp / "secret" / "key").write_text("host secret")
    v = short_tmp / "vol" / "_data"
    (v / "sub" / "dir").mkdir(parents=True)
    (v / "sub" / "dir" / "f").write_text("inside")
    return v


def _pin(short_tmp: Path, vol: Path, subpath: str) -> str:
    return pin_subpath(str(vol), subpath, str(short_tmp / "pins" / "p1"))


def test_subpath_pin_is_the_real_directory(short_tmp: Path, vol: Path) -> None:
    (vol / "inner").symlink_to("sub/dir")  # a symlink that stays inside is fine
    pin = _pin(short_tmp, vol, "inner")
    try:
        assert count(pin) == 1
        assert Path(pin, "f").read_text() == "inside"
        Path(pin, "new").write_text("via pin")
        assert (vol / "sub" / "dir" / "new").read_text() == "via pin"
        # Replacing the symlink afterwards changes nothing: the pin holds the directory.
        (vol / "inner").unlink()
        (vol / "inner").symlink_to("/")
        assert sorted(os.listdir(pin)) == ["f", "new"]
    finally:
        unpin(pin)
    assert count(pin) == 0 and not os.path.exists(pin)


@pytest.mark.parametrize(("setup", "subpath", "msg"), [
    (lambda v: (v / "esc").symlink_to("../../secret"), "esc", "escapes the volume"),
    (lambda v: (v / "abs").symlink_to("/etc"), "abs", "absolute symlink"),
    (lambda v: (v / "sub" / "up").symlink_to("../../.."), "sub/up/secret", "escapes the volume"),
    (lambda v: (v / "loop").symlink_to("loop"), "loop", "too many symlinks"),
    (lambda v: None, "../secret", "escapes the volume"),
    (lambda v: None, "sub/../../secret", "escapes the volume"),
    (lambda v: None, "nope", "no such file or directory"),
    (lambda v: None, "sub/dir/f/x", "is not a directory"),
])
def test_subpath_attacks_are_refused(short_tmp: Path, vol: Path, setup, subpath: str,
                                     msg: str) -> None:
    setup(vol)
    with pytest.raises((UnsafePath, InvalidMountSpec), match=msg):
        _pin(short_tmp, vol, subpath)
    assert not (short_tmp / "pins" / "p1").exists()
    assert count(str(short_tmp / "pins" / "p1")) == 0


def test_subpath_symlink_swap_race_never_escapes(short_tmp: Path, vol: Path) -> None:
    """A symlink swapped in while we walk: every pin is inside or refused."""
    (vol / "race").mkdir()
    (vol / "race" / "marker").write_text("inside")
    stop = threading.Event()

    def swapper() -> None:
        while not stop.is_set():
            try:
                os.rename(vol / "race", vol / "race.d")
                (vol / "race").symlink_to("../../secret")
                (vol / "race").unlink()
                os.rename(vol / "race.d", vol / "race")
            except FileNotFoundError:
                pass

    t = threading.Thread(target=swapper)
    t.start()
    outcomes = {"pinned": 0, "refused": 0}
    try:
        for i in range(150):
            pin = str(short_tmp / "pins" / f"r{i}")
            try:
                pin_subpath(str(vol), "race", pin)
            except (UnsafePath, InvalidMountSpec):
                outcomes["refused"] += 1
                continue
            try:
                assert not os.path.exists(os.path.join(pin, "key")), "escaped to the host secret"
                outcomes["pinned"] += 1
            finally:
                unpin(pin)
    finally:
        stop.set()
        t.join()
    assert outcomes["pinned"] + outcomes["refused"] == 150


def test_bind_source_symlink_is_resolved_on_the_host(short_tmp: Path) -> None:
    real = short_tmp / "real"
    real.mkdir()
    (short_tmp / "link").symlink_to(real)
    mp = parse_volume(f"{short_tmp}/link:/data")
    src = resolve_bind_source(mp)
    assert src == str(real)
    m = to_oci_mount(mp, src)
    assert m.source == str(real) and m.type == "bind" and m.options == ["rbind", "rprivate"]


def test_dangling_symlink_bind_source_is_refused_and_nothing_created(short_tmp: Path) -> None:
    target = short_tmp / "elsewhere" / "made"
    (short_tmp / "dangling").symlink_to(target)
    for raw in (f"{short_tmp}/dangling:/d", f"{short_tmp}/dangling/deeper:/d"):
        with pytest.raises(UnsafePath, match="dangling symlink"):
            resolve_bind_source(parse_volume(raw))
    assert not (short_tmp / "elsewhere").exists()


def test_missing_bind_source_created_for_v_error_for_mount(short_tmp: Path) -> None:
    src = resolve_bind_source(parse_volume(f"{short_tmp}/new/dir:/d"))
    assert src == f"{short_tmp}/new/dir" and os.path.isdir(src)
    with pytest.raises(InvalidMountSpec, match="bind source path does not exist"):
        parse_mount(parse_mount_flag(f"type=bind,src={short_tmp}/other,dst=/d"))
    assert not (short_tmp / "other").exists()


def test_oci_mounts_for_each_kind(short_tmp: Path) -> None:
    ro = to_oci_mount(parse_volume("v1:/v:ro"), "/x/_data")
    assert (ro.destination, ro.source, ro.options) == ("/v", "/x/_data", ["rbind", "rprivate", "ro"])
    nr = parse_mount(parse_mount_flag(f"type=bind,src={short_tmp},dst=/b,"
                                      "bind-recursive=disabled,bind-propagation=rslave"))
    assert to_oci_mount(nr, str(short_tmp)).options == ["bind", "rslave"]
    t = to_oci_mount(parse_mount(parse_mount_flag(
        "type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770,ro")))
    assert (t.type, t.source, t.options) == ("tmpfs", "tmpfs",
                                             ["noexec", "nosuid", "nodev", "ro", "mode=1770",
                                              "size=64m"])
    rr = parse_mount(parse_mount_flag(f"type=bind,src={short_tmp},dst=/b,ro,"
                                      "bind-recursive=readonly"))
    with pytest.raises(InvalidMountSpec, match="recursive read-only"):
        to_oci_mount(rr, str(short_tmp))
