"""Anonymous volumes of creates that failed or were cut short, and prune.

A container create's anonymous volume is born with the container's ref (one
transaction) and remembers the container it was made for; ``forget`` (a
failed create) and ``reap`` (the engine's start, after a ``kill -9``) remove
it when that container never came to be. Named volumes and ``volume
create``'s never go that way. Prune follows Docker >= 23.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from volume_plugin import VolumePlugin

from dockyard.volume import (
    InvalidParameter,
    VolumeError,
    VolumeService,
    container,
    parse_mount,
    parse_mount_flag,
    parse_volume,
)
from dockyard.volume.names import ANONYMOUS_LABEL, new_anonymous_name
from dockyard.volume.store import Store


def _names(svc: VolumeService) -> set[str]:
    return {d["Name"] for d in svc.list()}


def _refs(svc: VolumeService) -> set[tuple[str, str]]:
    return {(v.Name, r) for v in svc.store.all() for r in svc.store.refs(v.Name)}


def test_anonymous_volume_is_born_with_its_ref(svc: VolumeService) -> None:
    name = svc.create(None, ref="c1")["Name"]
    v = svc.get(name)
    assert v.Anonymous and v.MadeFor == "c1" and v.Labels == {ANONYMOUS_LABEL: ""}
    assert svc.store.refs(name) == ["c1"]
    # named ones take the ref too, but are never "made for" anyone
    svc.create("named", ref="c1")
    assert svc.get("named").MadeFor == "" and svc.store.refs("named") == ["c1"]
    svc.create("named", ref="c2")  # exists: the ref is added, nothing else
    assert svc.store.refs("named") == ["c1", "c2"]
    # volume create's anonymous volumes belong to no container
    plain = svc.create(None)["Name"]
    assert svc.get(plain).MadeFor == "" and svc.store.refs(plain) == []
    # nothing of it shows: inspect is Docker's document
    assert set(svc.inspect(name)) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name",
                                      "Options", "Scope"}


def test_failed_create_removes_its_anonymous_volumes_keeps_named(
        svc: VolumeService, plugin_dirs: tuple[Path, Path], short_tmp: Path) -> None:
    """A plugin refuses the third volume: the anonymous one made before goes,
    the named one made implicitly stays (Docker keeps it), refs are gone."""
    base = short_tmp / "pbase"
    base.mkdir()
    with VolumePlugin(str(plugin_dirs[0] / "refuser.sock"), str(base)):
        mps = [parse_mount(parse_mount_flag("type=volume,dst=/anon")),
               parse_volume("madehere:/named"),
               parse_mount(parse_mount_flag(
                   "type=volume,src=pv,dst=/p,volume-driver=refuser,volume-opt=fail=1"))]
        mps += container.image_volumes({"/img": {}}, mps)
        with pytest.raises(VolumeError, match="refusing: fail option set"):
            container.prepare(svc, "c1", mps)
    assert mps[0].Name  # it was made, then removed
    assert _names(svc) == {"madehere"}
    assert not os.path.exists(os.path.join(svc.dir, mps[0].Name))
    assert _refs(svc) == set()


def test_bad_driver_option_later_in_the_list_makes_nothing(svc: VolumeService) -> None:
    mps = [parse_mount(parse_mount_flag("type=volume,dst=/anon")), parse_volume("fine:/a"),
           parse_mount(parse_mount_flag("type=volume,src=bb,dst=/b,volume-opt=bogus=1"))]
    with pytest.raises(InvalidParameter, match="invalid option: 'bogus'"):
        container.prepare(svc, "c1", mps)
    assert _names(svc) == set() and _refs(svc) == set()
    assert [e for e in os.listdir(svc.dir) if not e.startswith("metadata.db")] == []


def test_discard_after_prepare(svc: VolumeService) -> None:
    """The engine's failed create after prepare (its record never written)."""
    svc.create("shared")
    mps = [parse_volume("shared:/s"), parse_volume("newnamed:/n")]
    mps += container.image_volumes({"/a": {}, "/b": {}}, mps)
    container.prepare(svc, "c1", mps)
    anon = {mps[2].Name, mps[3].Name}
    assert anon <= _names(svc)
    # another container took the shared one meanwhile: never disturbed
    container.prepare(svc, "c2", [parse_volume("shared:/s")])
    assert sorted(container.discard(svc, "c1")) == sorted(anon)
    assert _names(svc) == {"shared", "newnamed"}
    assert _refs(svc) == {("shared", "c2")}
    assert container.discard(svc, "c1") == []  # idempotent


def test_reap_after_kill9(svc: VolumeService) -> None:
    """What a restart finds after creates were cut short, and what it keeps."""
    # a container that exists (its record names its volumes)
    live = [parse_volume("data:/d")] + container.image_volumes({"/v": {}}, [])
    container.prepare(svc, "live", live)
    # a removed container (rm without -v): its anonymous volume is Docker's
    # to keep (dangling, for prune), not a leftover
    gone = container.image_volumes({"/v": {}}, [])
    container.prepare(svc, "removed", gone)
    container.remove(svc, "removed", gone)
    # `docker volume create` without a name: anonymous, but nobody's
    byhand = svc.create(None)["Name"]
    # creates cut short: refs of ids with no record
    dead = [parse_volume(f"{byhand}:/h"), parse_volume("data:/d"), parse_volume("implicit:/i"),
            parse_mount(parse_mount_flag("type=volume,dst=/m"))]
    dead += container.image_volumes({"/v": {}}, dead)
    container.prepare(svc, "dead", dead)
    half = container.image_volumes({"/x": {}}, [])
    container.prepare(svc, "half", half)
    # ... one of them even cut short inside its own clean-up: the volume's
    # data went (driver remove), its row (and ref) did not
    svc.local.remove(half[0].Name, {})
    # a rm cut short between the release and the record's removal: the
    # container still exists, with no ref on its volumes
    svc.release_all("live")
    before = _names(svc)

    removed = svc.reap({"live": [m.Name for m in live]})

    assert sorted(removed) == sorted([dead[3].Name, dead[4].Name, half[0].Name])
    assert _names(svc) == before - set(removed)
    assert {live[1].Name, gone[0].Name, byhand, "data", "implicit"} <= _names(svc)
    assert _refs(svc) == {("data", "live"), (live[1].Name, "live")}
    for name in removed:
        assert not os.path.exists(os.path.join(svc.dir, name))
    assert svc.reap({"live": [m.Name for m in live]}) == []
    # the live container's volumes are in use again: prune cannot take them
    assert live[1].Name not in svc.prune(all=True)["VolumesDeleted"]


def test_directory_without_record_swept_at_restore(svc: VolumeService) -> None:
    """A kill -9 between the driver's mkdir and the insert leaves a directory
    no record names; restore() removes it if it is an empty anonymous one."""
    empty = new_anonymous_name()
    os.makedirs(os.path.join(svc.dir, empty, "_data"))
    full = new_anonymous_name()
    os.makedirs(os.path.join(svc.dir, full, "_data"))
    Path(svc.dir, full, "_data", "f").write_text("someone's data")
    os.makedirs(os.path.join(svc.dir, "somename", "_data"))
    kept = svc.create(None)["Name"]
    svc.restore()
    left = set(os.listdir(svc.dir))
    assert empty not in left and {full, "somename", kept} <= left


def test_old_database_gains_the_column(short_tmp: Path) -> None:
    vdir = short_tmp / "root" / "volumes"
    vdir.mkdir(parents=True)
    con = sqlite3.connect(vdir / "metadata.db")
    con.executescript("""
        CREATE TABLE volumes (name TEXT PRIMARY KEY, driver TEXT NOT NULL,
            created_at TEXT NOT NULL, labels TEXT NOT NULL, options TEXT NOT NULL,
            scope TEXT NOT NULL, anonymous INTEGER NOT NULL);
        CREATE TABLE refs (volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,
            ref TEXT NOT NULL, PRIMARY KEY (volume, ref));
    """)
    con.execute("INSERT INTO volumes VALUES ('old', 'local', '', ?, '{}', 'local', 1)",
                (json.dumps({ANONYMOUS_LABEL: ""}),))
    con.execute("INSERT INTO refs VALUES ('old', 'gone')")
    con.commit()
    con.close()
    os.makedirs(vdir / "old" / "_data")
    svc = VolumeService(str(short_tmp / "root"), str(short_tmp / "run"))
    try:
        assert svc.get("old").MadeFor == ""
        # made before we knew: never taken for a cut-short create's
        assert svc.reap({}) == [] and "old" in _names(svc)
        new = svc.create(None, ref="c")["Name"]
        assert svc.get(new).MadeFor == "c"
    finally:
        svc.close()
    # and a second open is a no-op
    Store(str(vdir)).close()


def test_prune_is_dockers(svc: VolumeService) -> None:
    anon = svc.create(None)["Name"]
    labelled = svc.create("by-label", labels={ANONYMOUS_LABEL: ""})
    named = svc.create("named")["Name"]
    svc.create("tmp", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"},
               labels={ANONYMOUS_LABEL: ""})
    # anonymous = the label (Docker >= 23), local and without mount options only
    assert sorted(svc.prune()["VolumesDeleted"]) == sorted([anon, labelled["Name"]])
    for bad in (["maybe"], ["yes"], ["true", "false"]):
        with pytest.raises(InvalidParameter, match="invalid filter 'all"):
            svc.prune(filters={"all": bad})
    assert svc.prune(filters={"all": ["False"]})["VolumesDeleted"] == []
    assert svc.prune(filters={"all": ["T"]})["VolumesDeleted"] == [named]
    assert _names(svc) == {"tmp"}
