"""One conformance suite for every snapshotter (containerd's snapshots testsuite).

Runs against each built-in through the ``sn`` fixture, with real mounts.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from snapshot_helpers import CAP_NET_BIND, ROOTFS, Entry, MountFn, make_tar, tree_state

from dockyard.snapshot import Kind, Snapshotter, apply_layer_to_mounts, new_snapshotter
from dockyard.snapshot.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)

pytestmark = pytest.mark.needs_root


def _layer(sn: Snapshotter, name: str, parent: str, files: dict[str, bytes]) -> None:
    """Commit a layer holding ``files`` (written through the mount API)."""
    key = f"extract-{name}"
    mounts = sn.prepare(key, parent)
    tar = make_tar([Entry(n, data=d) for n, d in files.items()])
    apply_layer_to_mounts(io.BytesIO(tar), mounts)
    sn.commit(name, key)


def test_prepare_write_commit_view(sn: Snapshotter, mounted: MountFn) -> None:
    m = sn.prepare("a")
    root = mounted(m)
    Path(root, "hello").write_text("world")
    os.mkdir(os.path.join(root, "dir"))
    Path(root, "dir", "f").write_bytes(b"x" * 10)
    sn.commit("base", "a")
    with pytest.raises(NotFoundError):
        sn.stat("a")
    info = sn.stat("base")
    assert (info.kind, info.name, info.parent) == (Kind.COMMITTED, "base", "")

    view = mounted(sn.view("v", "base"))
    assert Path(view, "hello").read_text() == "world"
    assert Path(view, "dir", "f").read_bytes() == b"x" * 10
    with pytest.raises(OSError) as e:
        Path(view, "new").write_text("no")
    assert e.value.errno == errno.EROFS
    assert sn.stat("v").kind == Kind.VIEW


def test_chain_and_whiteouts_through_commits(sn: Snapshotter, mounted: MountFn) -> None:
    _layer(sn, "l1", "", {"keep": b"1", "gone": b"2", "d/inner": b"3", "change": b"old"})
    top = mounted(sn.prepare("work", "l1"))
    assert sorted(os.listdir(top)) == ["change", "d", "gone", "keep"]
    os.unlink(os.path.join(top, "gone"))
    Path(top, "change").write_bytes(b"new")
    import shutil

    shutil.rmtree(os.path.join(top, "d"))
    os.mkdir(os.path.join(top, "d"))
    Path(top, "d", "fresh").write_bytes(b"f")
    sn.commit("l2", "work")

    # Three layers deep, seen through a new active snapshot and a view.
    _layer(sn, "l3", "l2", {"third": b"3"})
    for mounts in (sn.prepare("ctr", "l3"), sn.view("look", "l3")):
        root = mounted(mounts)
        assert sorted(os.listdir(root)) == ["change", "d", "keep", "third"]
        assert Path(root, "change").read_bytes() == b"new"
        assert os.listdir(os.path.join(root, "d")) == ["fresh"]
    assert sn.stat("l3").parent == "l2"
    assert sn.stat("l2").parent == "l1"
    # The parent layers did not change.
    old = mounted(sn.view("old", "l1"))
    assert sorted(os.listdir(old)) == ["change", "d", "gone", "keep"]
    assert Path(old, "change").read_bytes() == b"old"


def test_a_new_snapshot_shows_exactly_its_parent(sn: Snapshotter, mounted: MountFn) -> None:
    """Owners, modes, setuid, xattrs (security.capability), hard links,
    devices, fifos, symlinks and timestamps all carry into a prepared
    snapshot (for native: cp -a keeps them all)."""
    m = sn.prepare("ex")
    apply_layer_to_mounts(io.BytesIO(make_tar(ROOTFS)), m)
    sn.commit("base", "ex")
    parent = tree_state(mounted(sn.view("v", "base")), dir_mtimes=True)
    child = tree_state(mounted(sn.prepare("act", "base")), dir_mtimes=True)
    assert child == parent
    assert parent["bin/ping"][5] == {"security.capability": CAP_NET_BIND}
    assert parent["bin/ping"][1] == 0o4755


def test_remove_refuses_parents_with_children(sn: Snapshotter) -> None:
    _layer(sn, "base", "", {"f": b"1"})
    sn.prepare("child", "base")
    with pytest.raises(FailedPreconditionError, match="child"):
        sn.remove("base")
    sn.remove("child")
    sn.remove("base")
    assert sn.walk() == []
    with pytest.raises(NotFoundError):
        sn.remove("base")
    # Nothing is left on disk either.
    assert os.listdir(os.path.join(sn.root, "snapshots")) == []


def test_bad_calls_are_refused_and_change_nothing(sn: Snapshotter) -> None:
    _layer(sn, "base", "", {"f": b"1"})
    sn.prepare("act", "base")
    before = sn.walk()
    with pytest.raises(AlreadyExistsError):
        sn.prepare("act", "base")
    with pytest.raises(AlreadyExistsError):
        sn.prepare("base")
    with pytest.raises(NotFoundError, match="nope"):
        sn.prepare("x", "nope")
    with pytest.raises(FailedPreconditionError, match="active"):
        sn.prepare("x", "act")  # parent must be committed
    with pytest.raises(FailedPreconditionError):
        sn.mounts("base")  # committed: no mounts
    sn.view("v", "base")
    with pytest.raises(FailedPreconditionError):
        sn.commit("c", "v")  # views don't commit
    with pytest.raises(AlreadyExistsError):
        sn.commit("base", "act")
    with pytest.raises(InvalidArgumentError):
        sn.prepare("")
    with pytest.raises(InvalidArgumentError):
        sn.prepare("a\x00b")
    sn.remove("v")
    assert sn.walk() == before
    assert len(os.listdir(os.path.join(sn.root, "snapshots"))) == 2


def test_labels_and_walk(sn: Snapshotter) -> None:
    sn.prepare("a", labels={"containerd.io/gc.root": "x", "k": "v"})
    sn.commit("A", "a", labels={"k": "v2", "new": "1"})
    assert sn.stat("A").labels == {"containerd.io/gc.root": "x", "k": "v2", "new": "1"}
    info = sn.update("A", {"k": None, "z": "9"})
    assert info.labels == {"containerd.io/gc.root": "x", "new": "1", "z": "9"}
    assert info.updated >= info.created
    sn.prepare("b", "A")
    sn.view("c", "A")
    sn.prepare("d")
    assert [i.name for i in sn.walk()] == ["A", "b", "c", "d"]
    assert [i.name for i in sn.walk(parent="A")] == ["b", "c"]
    assert [i.name for i in sn.walk(kind=Kind.ACTIVE)] == ["b", "d"]
    with pytest.raises(InvalidArgumentError):
        sn.update("A", {"bad": 1})  # type: ignore[dict-item]


def test_usage(sn: Snapshotter, mounted: MountFn) -> None:
    m = sn.prepare("a")
    root = mounted(m)
    Path(root, "big").write_bytes(b"\0" * (1 << 20))
    os.link(os.path.join(root, "big"), os.path.join(root, "big2"))  # counted once
    Path(root, "small").write_bytes(b"abc")
    u = sn.usage("a")
    assert u.size == (1 << 20) + 3
    assert u.inodes == 2
    sn.commit("A", "a")
    assert sn.usage("A") == u
    top = mounted(sn.prepare("b", "A"))
    Path(top, "more").write_bytes(b"12345")
    ub = sn.usage("b")
    if sn.name == "overlay":  # only the upper dir costs anything
        assert (ub.size, ub.inodes) == (5, 1)
    else:  # a full copy
        assert ub.size == (1 << 20) + 3 + 5


def test_restart_sees_the_same_state(sn: Snapshotter, tmp_path: Path, mounted: MountFn) -> None:
    _layer(sn, "base", "", {"f": b"data"})
    sn.prepare("act", "base", labels={"l": "1"})
    sn.view("v", "base")
    before = sn.walk()
    mounts = sn.mounts("act")
    sn.close()
    again = new_snapshotter(sn.name, sn.root)
    try:
        assert again.walk() == before
        assert again.mounts("act") == mounts
        root = mounted(again.mounts("act"))
        assert Path(root, "f").read_bytes() == b"data"
    finally:
        again.close()


def test_crash_leftovers_are_cleaned_at_open(sn: Snapshotter) -> None:
    _layer(sn, "base", "", {"f": b"1"})
    d = os.path.join(sn.root, "snapshots")
    # What a kill -9 can leave: a half-built snapshot (dead pid), a directory
    # renamed into place whose transaction never committed, a half-removed one.
    os.makedirs(os.path.join(d, "new-999999999-abc", "fs"))
    os.makedirs(os.path.join(d, "4242", "fs"))
    os.makedirs(os.path.join(d, "rm-17-abcd", "fs"))
    sn.close()
    again = new_snapshotter(sn.name, sn.root)
    try:
        assert sorted(os.listdir(d)) == ["1"]
        assert [i.name for i in again.walk()] == ["base"]
    finally:
        again.close()


def test_kill_9_during_prepare_and_commit(sn: Snapshotter) -> None:
    """A process making snapshots in a loop is killed at a random moment:
    every listed snapshot is whole and no directory is left unowned."""
    sn.close()
    script = textwrap.dedent(f"""
        import os, sys
        from dockyard.snapshot import new_snapshotter
        s = new_snapshotter({sn.name!r}, {sn.root!r})
        parent = ""
        for i in range(10_000):
            s.prepare(f"k{{i}}", parent)
            s.commit(f"c{{i}}", f"k{{i}}")
            parent = f"c{{i}}" if i < 20 else parent
            if i == 2:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = new_snapshotter(sn.name, sn.root)
    try:
        infos = again.walk()
        assert len(infos) >= 3
        d = os.path.join(sn.root, "snapshots")
        owned = {str(n) for n in os.listdir(d)}
        assert all(n.isdigit() for n in owned), owned
        assert len(owned) == len(infos)
        for info in infos:
            assert os.path.isdir(os.path.join(d, str(again._get(info.name).id), "fs"))  # type: ignore[attr-defined]
            if info.kind == Kind.ACTIVE:
                again.mounts(info.name)
    finally:
        again.close()


def test_processes_sharing_a_root(sn: Snapshotter) -> None:
    """Two writer processes and repeated opens (each runs cleanup) on one
    root: every committed snapshot survives, whole."""
    sn.close()
    script = textwrap.dedent(f"""
        import os, sys
        from dockyard.snapshot import new_snapshotter
        s = new_snapshotter({sn.name!r}, {sn.root!r})
        for i in range(25):
            m = s.prepare(f"{{sys.argv[1]}}-k{{i}}")
            src = m[0].source
            open(os.path.join(src, "f"), "w").write(str(i))
            s.commit(f"{{sys.argv[1]}}-c{{i}}", f"{{sys.argv[1]}}-k{{i}}")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, w]) for w in ("p", "q")]
    while any(p.poll() is None for p in procs):
        new_snapshotter(sn.name, sn.root).close()
    assert [p.returncode for p in procs] == [0, 0]
    again = new_snapshotter(sn.name, sn.root)
    try:
        infos = again.walk()
        assert len(infos) == 50 and all(i.kind == Kind.COMMITTED for i in infos)
        for info in infos:
            view = again.view("v-" + info.name, info.name)
            assert os.listdir(view[0].source) == ["f"]
    finally:
        again.close()


def test_layers_apply_through_mounts(sn: Snapshotter, mounted: MountFn) -> None:
    """Whiteouts in tars applied through apply_layer_to_mounts, on each
    snapshotter's own form (overlay marks or real deletions)."""
    _layer(sn, "l1", "", {"a": b"1", "d/x": b"2", "d/y": b"3", "e/z": b"4"})
    m = sn.prepare("ex2", "l1")
    tar = make_tar([
        Entry(".wh.a"),
        Entry("d", type=b"5", mode=0o755),
        Entry("d/.wh..wh..opq"),
        Entry("d/new", data=b"n"),
        Entry("e/.wh.z"),
    ])
    apply_layer_to_mounts(io.BytesIO(tar), m)
    sn.commit("l2", "ex2")
    root = mounted(sn.view("v", "l2"))
    assert sorted(os.listdir(root)) == ["d", "e"]
    assert os.listdir(os.path.join(root, "d")) == ["new"]
    assert os.listdir(os.path.join(root, "e")) == []


@pytest.mark.parametrize("name", ["overlay"])
def test_overlay_long_chain_beyond_one_page(name: str, tmp_path: Path, mounted: MountFn) -> None:
    """130 layers: absolute lowerdirs would exceed mount(2)'s one-page data."""
    root = tmp_path / ("x" * 60) / "root"
    sn = new_snapshotter(name, str(root))
    try:
        parent = ""
        for i in range(130):
            key = f"k{i}"
            m = sn.prepare(key, parent)
            upper = m[0].option("upperdir") or m[0].source
            Path(upper, f"f{i}").write_text(str(i))
            sn.commit(f"c{i}", key)
            parent = f"c{i}"
        m = sn.prepare("top", parent)
        assert len(",".join(m[0].options)) > 4096
        top = mounted(m)
        assert Path(top, "f0").read_text() == "0"
        assert len(os.listdir(top)) == 130
        Path(top, "w").write_text("upper")
        assert Path(m[0].option("upperdir") or "", "w").read_text() == "upper"
    finally:
        sn.close()


def test_bad_snapshotter_name_or_root(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown snapshotter 'zfs'.*native, overlay"):
        new_snapshotter("zfs", str(tmp_path / "r"))
    for bad in ("a,b", "a:b"):
        with pytest.raises(InvalidArgumentError, match="may not contain"):
            new_snapshotter("overlay", str(tmp_path / bad))
        assert not (tmp_path / bad).exists()
