"""Anonymous volumes through the daemon: a failed create leaves none behind,
and ``docker volume prune`` is Docker's (>= 23).

A create that fails after its volumes were made (a bad ``ExtraHosts`` entry
is only looked at when the container's files are written, after the
volumes; a volume plugin refusing the last volume of the list) removes the
anonymous ones it made and keeps the named one it made, as Docker does.
(``kill -9`` in the middle of creates: ``test_engine_kill9.py``.)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from daemon_helpers import Daemon, new_daemon

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "volume"))
from volume_plugin import VolumePlugin

pytestmark = [pytest.mark.needs_root]

ANON = "com.docker.volume.anonymous"


@pytest.fixture
def pd() -> Iterator[Daemon]:
    """A daemon that looks for volume plugins in a private dir."""
    import shutil

    base = tempfile.mkdtemp(prefix="dya-", dir="/tmp")
    plugins = os.path.join(base, "plugins")
    os.makedirs(plugins)
    d = new_daemon(["--bridge", "none", "--plugin-dir", plugins])
    d.env.update(plugins=plugins, base=base)
    try:
        yield d
    finally:
        d.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def _volumes(d: Daemon) -> set[str]:
    with d.api() as c:
        r = c.get("/volumes")
    assert r.status_code == 200, r.text
    return {v["Name"] for v in r.json()["Volumes"]}


def _on_disk(d: Daemon) -> set[str]:
    return {e for e in os.listdir(os.path.join(d.root, "volumes"))
            if not e.startswith("metadata.db")}


def _image_with_volume(d: Daemon, ref: str) -> None:
    base = d.docker("create", "busybox", "true", check=True).stdout.decode().strip()
    d.docker("commit", "--change", "VOLUME /img", base, ref, check=True)
    d.docker("rm", base, check=True)


def test_failed_create_leaves_no_anonymous_volume(pd: Daemon, unique: str) -> None:
    d = pd
    img = f"{unique}-vimg"
    _image_with_volume(d, img)
    pre, implicit = f"{unique}-pre", f"{unique}-implicit"
    d.docker("volume", "create", pre, check=True)
    byhand = d.docker("volume", "create", check=True).stdout.decode().strip()
    before = _volumes(d)
    assert before == {pre, byhand}
    body: dict[str, Any] = {
        "Image": img, "Cmd": ["true"], "Volumes": {"/anon": {}},
        "HostConfig": {"Binds": [f"{pre}:/pre", f"{implicit}:/impl", f"{byhand}:/h"],
                       "Mounts": [{"Type": "volume", "Target": "/m"}]}}

    # the same request that works makes three anonymous volumes (and the named one):
    # what the failures below must not leave behind is really made
    with d.api() as c:
        r = c.post("/containers/create", json=body)
        assert r.status_code == 201, r.text
        cid = r.json()["Id"]
        mounts = c.get(f"/containers/{cid}/json").json()["Mounts"]
        made = {m["Name"] for m in mounts} - before - {implicit}
        assert len(made) == 3 and made <= _volumes(d)
        for name in made:
            assert c.get(f"/volumes/{name}").json()["Labels"] == {ANON: ""}
        assert c.delete(f"/containers/{cid}", params={"v": "1"}).status_code == 204
    assert _volumes(d) == before | {implicit}  # rm -v: anonymous ones only
    d.docker("volume", "rm", implicit, check=True)

    # 1. fails when the container's files are written, after the volumes
    bad = json.loads(json.dumps(body))
    bad["HostConfig"]["ExtraHosts"] = ["db:not-an-ip"]
    with d.api() as c:
        r = c.post("/containers/create", json=bad)
    assert r.status_code == 400 and "not-an-ip" in r.json()["message"], r.text
    assert _volumes(d) == before | {implicit}  # the named one it made stays (Docker's)
    assert _on_disk(d) == before | {implicit}

    # 2. fails in the middle of the volumes: a plugin refuses the last one
    with VolumePlugin(os.path.join(d.env["plugins"], "refuser.sock"),
                      os.path.join(d.env["base"], "pv")) as plugin:
        os.makedirs(plugin.base)
        bad = json.loads(json.dumps(body))
        bad["HostConfig"]["Mounts"].append(
            {"Type": "volume", "Source": f"{unique}-pv", "Target": "/p",
             "VolumeOptions": {"DriverConfig": {"Name": "refuser", "Options": {"fail": "1"}}}})
        with d.api() as c:
            r = c.post("/containers/create", json=bad)
        assert r.status_code >= 400 and "refusing" in r.json()["message"], r.text
        assert [m for m, _, _ in plugin.calls].count("VolumeDriver.Create") == 1
    assert _volumes(d) == before | {implicit}
    assert _on_disk(d) == before | {implicit}

    # 3. bad input later in the list: refused before anything is made
    bad = json.loads(json.dumps(body))
    bad["HostConfig"]["Binds"].append(f"{unique}-new:/n")
    bad["HostConfig"]["Mounts"].append(
        {"Type": "volume", "Source": f"{unique}-opt", "Target": "/o",
         "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": {"bogus": "1"}}}})
    with d.api() as c:
        r = c.post("/containers/create", json=bad)
    assert r.status_code == 400 and "bogus" in r.json()["message"], r.text
    assert _volumes(d) == before | {implicit}

    # nothing holds the volumes: all of them can go, none is in use
    for name in before | {implicit}:
        d.docker("volume", "rm", name, check=True)
    assert _volumes(d) == set() and _on_disk(d) == set()
    with d.api() as c:
        assert c.get("/containers/json", params={"all": "1"}).json() == []


def test_volume_prune_is_dockers(daemon: Daemon, unique: str) -> None:
    d = daemon
    named, lab = f"{unique}-named", f"{unique}-lab"
    d.docker("volume", "create", named, check=True)
    d.docker("volume", "create", "--label", f"{ANON}=", lab, check=True)
    byhand = d.docker("volume", "create", check=True).stdout.decode().strip()
    d.docker("create", "--name", unique, "-v", "/data", "busybox", "true", check=True)
    used = json.loads(d.docker("inspect", "-f", "{{json .Mounts}}", unique,
                               check=True).stdout)[0]["Name"]
    labels = json.loads(d.docker("volume", "inspect", "-f", "{{json .Labels}}", used,
                                 check=True).stdout)
    assert labels == {ANON: ""}
    assert json.loads(d.docker("volume", "inspect", "-f", "{{json .Labels}}", byhand,
                               check=True).stdout) == {ANON: ""}

    # without -a: unused anonymous ones (the label decides), never one in use
    out = d.docker("volume", "prune", "-f", check=True).stdout.decode()
    assert byhand in out and lab in out and used not in out and named not in out
    assert _volumes(d) == {named, used}
    with d.api() as c:
        for bad in (["maybe"], ["true", "false"]):
            r = c.post("/volumes/prune", params={"filters": json.dumps({"all": bad})})
            assert r.status_code == 400 and "invalid filter 'all" in r.json()["message"], r.text
        # a client older than API 1.42 gets the old meaning: every unused volume
        r = c.post("/v1.41/volumes/prune")
        assert r.status_code == 200 and r.json()["VolumesDeleted"] == [named], r.text
    d.docker("volume", "create", named, check=True)
    # rm without -v keeps the anonymous volume (dangling); prune takes it
    d.docker("rm", unique, check=True)
    assert _volumes(d) == {named, used}
    out = d.docker("volume", "prune", "-f", check=True).stdout.decode()
    assert used in out and named not in out
    out = d.docker("volume", "prune", "-a", "-f", check=True).stdout.decode()
    assert named in out
    assert _volumes(d) == set()
