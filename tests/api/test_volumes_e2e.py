"""Issue 5 end to end: volumes through a private daemon with the real docker CLI and docker-py.

--volumes-from (:ro), image VOLUMEs, copy-up, :ro; docker cp into/out of a
volume; system df -v, ls filters, prune, in-use 409; a volume plugin found in
the daemon's --plugin-dir; docker-py's volume API; kill -9 and restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import docker
import pytest
from daemon_helpers import Daemon, new_daemon

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "volume"))

from volume_plugin import VolumePlugin

pytestmark = pytest.mark.needs_root


@pytest.fixture(scope="module")
def pd() -> Iterator[Daemon]:
    """A daemon told about a private volume plugin dir (``<dir>/plugins``)."""
    import tempfile

    base = tempfile.mkdtemp(prefix="dyp-", dir="/tmp")
    plugins = os.path.join(base, "plugins")
    os.makedirs(plugins)
    d = new_daemon(["--bridge", "none", "--plugin-dir", plugins])
    d.env["plugins"] = plugins
    d.env["base"] = base
    try:
        yield d
    finally:
        d.cleanup()
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def _mounts_of(path: str) -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split()[4] == path)


def test_volumes_from_image_volume_copyup_ro(pd: Daemon, unique: str) -> None:
    d, img, vol = pd, f"{unique}-img", f"{unique}-v"
    try:
        # an image with content under /data and VOLUME /data
        d.docker("create", "--name", f"{unique}-b", "busybox", "true", check=True)
        d.docker("commit", "--change", "VOLUME /data", f"{unique}-b", img, check=True)
        d.docker("run", "--name", f"{unique}-seed", img, "sh", "-c",
                 "echo seeded > /data/s", check=True)
        # anonymous volume from the image's VOLUME
        mounts = json.loads(d.docker("inspect", "-f", "{{json .Mounts}}", f"{unique}-seed",
                                     check=True).stdout)
        assert [m["Destination"] for m in mounts] == ["/data"] and mounts[0]["Type"] == "volume"
        assert len(mounts[0]["Name"]) == 64
        # copy-up: a fresh named volume over image content gets that content
        d.docker("run", "--name", f"{unique}-p", "-v", "/etc", "busybox", "true", check=True)
        r = d.docker("run", "--rm", "-v", f"{vol}:/etc", "busybox", "cat", "/etc/passwd",
                     check=True)
        assert b"root:" in r.stdout
        # :ro named volume
        r = d.docker("run", "--rm", "-v", f"{vol}:/etc:ro", "busybox", "sh", "-c",
                     "touch /etc/x 2>/dev/null && echo wrote || echo refused")
        assert r.stdout == b"refused\n"
        # --volumes-from, read-write and :ro
        r = d.docker("run", "--rm", "--volumes-from", f"{unique}-seed", "busybox",
                     "cat", "/data/s", check=True)
        assert r.stdout == b"seeded\n"
        r = d.docker("run", "--rm", "--volumes-from", f"{unique}-seed:ro", "busybox", "sh",
                     "-c", "cat /data/s; touch /data/y 2>/dev/null && echo wrote || echo refused")
        assert r.stdout == b"seeded\nrefused\n"
        r = d.docker("run", "--rm", "--volumes-from", f"{unique}-nope", "busybox", "true")
        assert r.returncode == 125 and b"nope" in r.stderr
        r = d.docker("run", "--rm", "--volumes-from", f"{unique}-seed:rx", "busybox", "true")
        assert r.returncode == 125 and b"rx" in r.stderr
        # rm -v of a consumer leaves the source's anonymous volume alone
        d.docker("run", "--name", f"{unique}-c", "--volumes-from", f"{unique}-seed", "busybox",
                 "true", check=True)
        d.docker("rm", "-v", f"{unique}-c", check=True)
        assert mounts[0]["Name"].encode() in d.docker("volume", "ls", "-q", check=True).stdout
    finally:
        for c in ("b", "c", "seed", "p"):
            d.docker("rm", "-f", "-v", f"{unique}-{c}")
        d.docker("rmi", img)
        d.docker("volume", "rm", vol)


def test_cp_into_and_out_of_volume(pd: Daemon, unique: str) -> None:
    d, vol = pd, f"{unique}-cp"
    src = os.path.join(d.dir, f"{unique}.txt")
    with open(src, "w") as f:
        f.write("via cp\n")
    try:
        d.docker("run", "-d", "--name", unique, "-v", f"{vol}:/data", "busybox", "sleep", "60",
                 check=True)
        d.docker("cp", src, f"{unique}:/data/in.txt", check=True)
        r = d.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "cat", "/v/in.txt", check=True)
        assert r.stdout == b"via cp\n"
        d.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                 "echo from vol > /v/out.txt", check=True)
        out = os.path.join(d.dir, f"{unique}.out")
        d.docker("cp", f"{unique}:/data/out.txt", out, check=True)
        with open(out) as f:
            assert f.read() == "from vol\n"
        # not in the container's own layer
        upper = json.loads(d.docker("inspect", "-f", "{{json .GraphDriver.Data}}", unique,
                                    check=True).stdout or b"null") or {}
        if upper.get("UpperDir"):
            assert not os.path.exists(os.path.join(upper["UpperDir"], "data", "in.txt"))
        # a symlink inside the volume pointing at / stays inside the container
        d.docker("exec", unique, "ln", "-s", "/", "/data/up", check=True)
        d.docker("cp", src, f"{unique}:/data/up/tmp/{unique}.esc", check=True)
        assert not os.path.exists(f"/tmp/{unique}.esc")
        r = d.docker("exec", unique, "cat", f"/tmp/{unique}.esc", check=True)
        assert r.stdout == b"via cp\n"
        # a stopped container: its volumes are mounted for the copy, then let go
        d.docker("kill", unique, check=True)
        d.docker("wait", unique, check=True)
        d.docker("cp", src, f"{unique}:/data/stopped.txt", check=True)
        r = d.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "cat", "/v/stopped.txt",
                     check=True)
        assert r.stdout == b"via cp\n"
        d.docker("cp", f"{unique}:/data/out.txt", out + "2", check=True)
        with open(out + "2") as f:
            assert f.read() == "from vol\n"
        d.docker("create", "--name", f"{unique}-ro", "-v", f"{vol}:/ro:ro", "busybox", "true",
                 check=True)
        r = d.docker("cp", src, f"{unique}-ro:/ro/x")
        assert r.returncode != 0 and b"read-only file system" in r.stderr.lower()
        cid = d.docker("inspect", "-f", "{{.Id}}", unique, check=True).stdout.strip().decode()
        with open("/proc/self/mountinfo") as f:
            assert cid not in f.read()  # nothing left mounted for the copies
    finally:
        d.docker("rm", "-f", unique, f"{unique}-ro")
        d.docker("volume", "rm", vol)


def test_df_filters_prune_in_use(pd: Daemon, unique: str) -> None:
    d = pd
    named, lab = f"{unique}-n", f"{unique}-l"
    try:
        d.docker("volume", "create", named, check=True)
        d.docker("volume", "create", "--label", f"team={unique}", lab, check=True)
        d.docker("run", "-d", "--name", unique, "-v", f"{named}:/d", "-v", "/anon", "busybox",
                 "sh", "-c", "head -c 5000 /dev/zero > /d/f; sleep 60", check=True)
        anon = next(m["Name"] for m in json.loads(d.docker(
            "inspect", "-f", "{{json .Mounts}}", unique, check=True).stdout)
            if m["Destination"] == "/anon")
        # the API's UsageData, and the CLI's rendering of it (LINKS, SIZE)
        ok = False
        for _ in range(300):  # the container writes after it starts
            with d.api() as c:
                by = {v["Name"]: v for v in c.get("/system/df").json()["Volumes"]}
            if by[named]["UsageData"]["Size"] >= 5000:
                ok = True
                break
            time.sleep(0.1)
        assert ok, by[named]
        assert by[named]["UsageData"]["RefCount"] == 1
        assert by[lab]["UsageData"] == {"Size": 0, "RefCount": 0}
        assert by[anon]["UsageData"]["RefCount"] == 1
        cli = {v["Name"]: v for v in json.loads(d.docker(
            "system", "df", "-v", "--format", "{{json .Volumes}}", check=True).stdout)}
        assert cli[named]["Links"] == "1" and cli[named]["Size"] == "5kB"
        assert cli[lab]["Links"] == "0" and cli[lab]["Size"] == "0B"

        def ls(*f: str) -> set[str]:
            args = [x for flt in f for x in ("--filter", flt)]
            return set(d.docker("volume", "ls", "-q", *args, check=True).stdout.decode().split())

        assert lab in ls("dangling=true") and named not in ls("dangling=true")
        assert named in ls("dangling=false") and lab not in ls("dangling=false")
        assert {named, lab} <= ls("driver=local")
        assert ls(f"label=team={unique}") == {lab} and ls("label=team") >= {lab}
        assert ls(f"name={unique}-n") == {named}
        r = d.docker("volume", "ls", "--filter", "bogus=1")
        assert r.returncode != 0 and b"bogus" in r.stderr
        # in use: 409 naming the container
        cid = d.docker("inspect", "-f", "{{.Id}}", unique, check=True).stdout.strip()
        with d.api() as c:
            resp = c.delete(f"/volumes/{named}")
        assert resp.status_code == 409 and cid.decode()[:12] in resp.json()["message"]
        # prune: anonymous unused only by default; -a takes unused named ones too
        d.docker("rm", "-f", unique, check=True)  # no -v: the anonymous volume stays
        assert anon in ls()
        d.docker("volume", "prune", "-f", "--filter", f"label!=nothing-{unique}", check=True)
        names = ls()
        assert anon not in names and {named, lab} <= names
        d.docker("volume", "prune", "-a", "-f", "--filter", f"label=team={unique}", check=True)
        names = ls()
        assert lab not in names and named in names
    finally:
        d.docker("rm", "-f", unique)
        d.docker("volume", "rm", named, lab)


def test_volume_plugin_through_daemon(pd: Daemon, unique: str) -> None:
    d = pd
    name = unique.replace("-", "")[:20] + "plug"
    pbase = os.path.join(d.env["base"], unique)
    os.makedirs(pbase)
    sock = os.path.join(d.env["plugins"], name + ".sock")
    vol = f"{unique}-pv"
    with VolumePlugin(sock, pbase) as plugin:
        try:
            d.docker("volume", "create", "-d", name, vol, check=True)
            assert os.path.isdir(os.path.join(pbase, vol))
            d.docker("run", "--rm", "-v", f"{vol}:/data", "busybox", "touch", "/data/x",
                     check=True)
            assert os.path.exists(os.path.join(pbase, vol, "x"))
            methods = [c[0] for c in plugin.calls]
            assert "VolumeDriver.Mount" in methods and "VolumeDriver.Unmount" in methods
            assert methods.index("VolumeDriver.Mount") < methods.index("VolumeDriver.Unmount")
            doc = json.loads(d.docker("volume", "inspect", vol, check=True).stdout)[0]
            assert doc["Driver"] == name
            assert _mounts_of(os.path.join(pbase, vol)) == 0
            r = d.docker("volume", "create", "-d", f"{unique}nope", f"{vol}2")
            assert r.returncode != 0 and b"nope" in r.stderr
        finally:
            d.docker("volume", "rm", "-f", vol)
    assert not os.path.exists(os.path.join(pbase, vol))


def test_docker_py_volume_api(pd: Daemon, unique: str) -> None:
    client = docker.DockerClient(base_url=pd.host, timeout=60)
    try:
        v = client.volumes.create(name=f"{unique}-py", labels={"k": unique})
        assert v.name == f"{unique}-py" and v.attrs["Labels"] == {"k": unique}
        assert client.volumes.get(v.name).attrs["Driver"] == "local"
        assert v.name in [x.name for x in client.volumes.list(filters={"label": f"k={unique}"})]
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get(f"{unique}-missing")
        pruned = client.volumes.prune(filters={"label": f"k={unique}", "all": "true"})
        assert pruned["VolumesDeleted"] == [v.name]
        v2 = client.volumes.create(name=f"{unique}-py2")
        v2.remove()
        assert v2.name not in [x.name for x in client.volumes.list()]
    finally:
        client.close()


def test_kill9_restart_keeps_volume_mounted_once() -> None:
    d = new_daemon()
    try:
        vol = "k9vol"  # a tmpfs volume: really mounted on the host while in use
        d.docker("volume", "create", "--label", "x=y", "--opt", "type=tmpfs", "--opt",
                 "device=tmpfs", vol, check=True)
        d.docker("run", "-d", "--name", "k9", "-v", f"{vol}:/data", "busybox", "sh", "-c",
                 "echo before > /data/f; sleep 120", check=True)
        path = json.loads(d.docker("volume", "inspect", vol, check=True).stdout)[0]["Mountpoint"]
        before = _mounts_of(path)
        assert before == 1
        d.kill9()
        d.start()
        doc = json.loads(d.docker("volume", "inspect", vol, check=True).stdout)[0]
        assert doc["Labels"] == {"x": "y"}
        r = d.docker("exec", "k9", "cat", "/data/f", check=True)
        assert r.stdout == b"before\n"
        assert _mounts_of(path) == before
        d.docker("restart", "-t", "1", "k9", check=True)
        assert _mounts_of(path) == before
        r = d.docker("volume", "rm", vol)
        assert r.returncode != 0 and b"in use" in r.stderr
        d.docker("rm", "-f", "k9", check=True)
        assert _mounts_of(path) == 0
        d.docker("volume", "rm", vol, check=True)
    finally:
        d.cleanup()


def test_plugin_dir_option_bad_input(short_tmp: str) -> None:
    from daemon_helpers import DOCKYARD

    conf = os.path.join(short_tmp, "daemon.json")
    with open(conf, "w") as f:
        json.dump({"plugin-dirs": "/not/a/list"}, f)
    root = os.path.join(short_tmp, "root")
    for args in (["--plugin-dir", "relative/dir"], ["--config-file", conf]):
        r = subprocess.run([DOCKYARD, "daemon", "--root", root, "--run-root", root + "-run",
                            "-H", f"unix://{short_tmp}/s.sock", "--bridge", "none", *args],
                           capture_output=True, timeout=60)
        assert r.returncode == 2 and b"plugin-dir" in r.stderr, r.stderr
        assert not os.path.exists(root)  # refused before touching anything
