"""The volume service: names, create/inspect/list/remove/prune, users, restart."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from dockyard.volume import Conflict, InvalidParameter, NotFound, VolumeService
from dockyard.volume.names import ANONYMOUS_LABEL

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def test_create_inspect_has_dockers_shape(svc: VolumeService) -> None:
    doc = svc.create("data", labels={"team": "a"})
    assert set(doc) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}
    assert doc["Name"] == "data" and doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"team": "a"} and doc["Options"] is None
    assert RFC3339.match(doc["CreatedAt"])
    assert doc["Mountpoint"] == os.path.join(svc.root, "volumes", "data", "_data")
    assert os.path.isdir(doc["Mountpoint"])
    assert svc.inspect("data") == doc
    with_usage = svc.inspect("data", usage=True)
    assert with_usage["UsageData"] == {"Size": 0, "RefCount": 0}


def test_create_is_idempotent_but_not_across_drivers(svc: VolumeService, plugin_dirs) -> None:
    a = svc.create("same")
    assert svc.create("same") == a
    with pytest.raises(Conflict, match="driver 'local' already has volume 'same'"):
        svc.create("same", driver="otherdriver")


@pytest.mark.parametrize("bad", ["a/b", "..", ".", "../x", "/abs", "-lead", "x", "a b", "a:b",
                                 "é1"])
def test_bad_names_refused_and_nothing_made(svc: VolumeService, bad: str) -> None:
    before = sorted(os.listdir(os.path.join(svc.root, "volumes")))
    with pytest.raises(InvalidParameter, match="invalid characters for a local volume name"):
        svc.create(bad)
    assert sorted(os.listdir(os.path.join(svc.root, "volumes"))) == before
    assert svc.list() == []


def test_reserved_name_refused(svc: VolumeService) -> None:
    with pytest.raises(InvalidParameter, match="'metadata.db' is reserved"):
        svc.create("metadata.db")
    assert os.path.isfile(os.path.join(svc.root, "volumes", "metadata.db"))


def test_anonymous_volume(svc: VolumeService) -> None:
    doc = svc.create(None)
    assert re.fullmatch(r"[0-9a-f]{64}", doc["Name"])
    assert doc["Labels"] == {ANONYMOUS_LABEL: ""}
    assert svc.get(doc["Name"]).Anonymous


def test_list_filters(svc: VolumeService) -> None:
    svc.create("web-data", labels={"app": "web", "tier": "front"})
    svc.create("db-data", labels={"app": "db"})
    svc.create("scratch")
    svc.acquire("db-data", "c" * 64)
    names = lambda f: [d["Name"] for d in svc.list(f)]  # noqa: E731
    assert names(None) == ["db-data", "scratch", "web-data"]
    assert names({"dangling": ["true"]}) == ["scratch", "web-data"]
    assert names({"dangling": ["0"]}) == ["db-data"]
    assert names({"label": ["app"]}) == ["db-data", "web-data"]
    assert names({"label": ["app=web"]}) == ["web-data"]
    assert names({"label": ["app=web", "tier=back"]}) == []
    assert names({"name": ["data"]}) == ["db-data", "web-data"]
    assert names({"driver": ["local"]}) == ["db-data", "scratch", "web-data"]
    assert names({"driver": {"nope": True}}) == []  # the old map form
    with pytest.raises(InvalidParameter, match="invalid filter 'color'"):
        svc.list({"color": ["red"]})
    with pytest.raises(InvalidParameter, match="invalid filter 'dangling=maybe'"):
        svc.list({"dangling": ["maybe"]})


def test_remove_refused_while_in_use_names_containers(svc: VolumeService) -> None:
    svc.create("busy")
    svc.acquire("busy", "c1")
    svc.mount("busy", "c2")
    with pytest.raises(Conflict) as e:
        svc.remove("busy")
    assert str(e.value) == "remove busy: volume is in use - [c1, c2]"
    assert e.value.status == 409
    with pytest.raises(Conflict):
        svc.remove("busy", force=True)  # force never removes a volume in use
    svc.unmount("busy", "c2")
    svc.release("busy", "c2")
    svc.release("busy", "c1")
    svc.remove("busy")
    with pytest.raises(NotFound, match="get busy: no such volume"):
        svc.inspect("busy")
    assert not os.path.exists(os.path.join(svc.root, "volumes", "busy"))
    svc.remove("busy", force=True)  # -f: missing is fine


def test_prune_anonymous_by_default_all_on_request(svc: VolumeService) -> None:
    anon = svc.create(None)["Name"]
    anon_used = svc.create(None)["Name"]
    svc.acquire(anon_used, "ctr")
    named = svc.create("keepme")["Mountpoint"]
    Path(named, "f").write_bytes(b"x" * 1000)
    Path(svc.inspect(anon)["Mountpoint"], "g").write_bytes(b"y" * 10)
    out = svc.prune()
    assert out == {"VolumesDeleted": [anon], "SpaceReclaimed": 10}
    out = svc.prune(all=True)
    assert out == {"VolumesDeleted": ["keepme"], "SpaceReclaimed": 1000}
    assert [d["Name"] for d in svc.list()] == [anon_used]


def test_prune_label_filters(svc: VolumeService) -> None:
    svc.create("keep-a", labels={"keep": "yes"})
    svc.create("drop-b", labels={"env": "ci"})
    svc.create("drop-c")
    assert svc.prune(filters={"all": ["true"], "label!": ["keep"], "label": ["env=ci"]}) == \
        {"VolumesDeleted": ["drop-b"], "SpaceReclaimed": 0}
    assert svc.prune(filters={"all": ["1"], "label!": ["keep=yes"]})["VolumesDeleted"] == \
        ["drop-c"]
    with pytest.raises(InvalidParameter, match="invalid filter 'dangling'"):
        svc.prune(filters={"dangling": ["true"]})
    assert [d["Name"] for d in svc.list()] == ["keep-a"]


def test_usage_counts_hardlinks_once(svc: VolumeService) -> None:
    mp = svc.create("sized")["Mountpoint"]
    Path(mp, "a").write_bytes(b"1" * 4096)
    os.link(Path(mp, "a"), Path(mp, "b"))
    os.makedirs(Path(mp, "d/e"))
    Path(mp, "d/e/c").write_bytes(b"2" * 100)
    os.symlink("/etc/passwd", Path(mp, "link"))
    (doc,) = svc.df()
    assert doc["UsageData"]["Size"] == 4096 + 100 + len("/etc/passwd")


def test_users_survive_a_restart(svc: VolumeService, short_tmp: Path) -> None:
    svc.create("kept")
    svc.acquire("kept", "ctr1")
    svc.close()
    again = VolumeService(svc.root, svc.run_root)
    try:
        with pytest.raises(Conflict, match=r"in use - \[ctr1\]"):
            again.remove("kept")
        assert again.list({"dangling": ["true"]}) == []
    finally:
        again.close()


def test_two_users_concurrently(svc: VolumeService) -> None:
    svc.create("shared", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def user(uid: str) -> None:
        try:
            barrier.wait()
            for _ in range(20):
                p = svc.mount("shared", uid)
                Path(p, uid).write_text(uid)
                svc.unmount("shared", uid)
                svc.mount("shared", uid)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=user, args=(u,)) for u in ("u1", "u2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    path = svc.inspect("shared")["Mountpoint"]
    from dockyard.volume.mountinfo import count
    assert count(path) == 1
    assert svc.users("shared") == ["u1", "u2"]
    svc.unmount("shared", "u1")
    assert count(path) == 1  # one user left
    svc.unmount("shared", "u2")
    assert count(path) == 0
    svc.release_all("u1")
    svc.release_all("u2")
    svc.remove("shared")


def test_remove_and_size_a_tree_deeper_than_path_max(svc: VolumeService) -> None:
    """A container can nest directories past PATH_MAX in its volume; rm and df still work."""
    mp = svc.create("deep")["Mountpoint"]
    fd = os.open(mp, os.O_PATH | os.O_DIRECTORY)
    try:
        for _ in range(2100):  # 2 bytes a level: past PATH_MAX (4096)
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_PATH | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    Path(mp, "top").write_bytes(b"z" * 7)
    assert svc.inspect("deep", usage=True)["UsageData"]["Size"] == 7
    svc.remove("deep")
    assert not os.path.exists(os.path.dirname(mp))
