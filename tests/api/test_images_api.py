"""The image commands of the docker CLI through the daemon (the image service behind)."""

from __future__ import annotations

import os

import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root


def test_tag_history_save_load_rmi(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    ref = f"{unique}:1"
    d.docker("tag", "busybox", ref, check=True)
    assert ref.encode() in d.docker("images", "--format", "{{.Repository}}:{{.Tag}}",
                                    check=True).stdout
    assert b"busybox-static" in d.docker("history", ref, check=True).stdout
    tar = os.path.join(d.dir, f"{unique}.tar")
    d.docker("save", ref, "-o", tar, check=True)
    assert os.path.getsize(tar) > 100_000
    # a missing name among several: a 404 before anything is written, not a broken tar
    bad = os.path.join(d.dir, f"{unique}-bad.tar")
    r = d.docker("save", ref, f"{unique}-nope:1", "-o", bad)
    assert r.returncode != 0 and b"No such image" in r.stderr, r.stderr
    assert d.docker("rmi", ref, check=True).stdout == f"Untagged: {ref}\n".encode()
    assert d.docker("image", "inspect", ref).returncode != 0
    assert d.docker("load", "-i", tar, check=True).stdout == f"Loaded image: {ref}\n".encode()
    # an image in use by a container cannot go without -f
    d.docker("create", "--name", unique, f"{unique}:1", "true", check=True)
    d.docker("tag", ref, f"{unique}:2", check=True)
    d.docker("rmi", f"{unique}:2", check=True)  # another name is left: just an untag
    r = d.docker("rmi", "busybox-nope-" + unique)
    assert r.returncode != 0 and b"No such image" in r.stderr
    d.docker("rm", unique, check=True)
    d.docker("rmi", ref, check=True)
    r = d.docker("run", "--rm", ref, "true")
    assert r.returncode == 125


def test_system_df(shared_daemon: Daemon, unique: str) -> None:
    import json

    d = shared_daemon
    d.docker("run", "--name", unique, "busybox", "sh", "-c",
             "dd if=/dev/zero of=/big bs=1k count=300 2>/dev/null", check=True)
    try:
        with d.api() as api:
            doc = api.get("/system/df").json()
        mine = next(c for c in doc["Containers"] if c["Names"] == [f"/{unique}"])
        assert mine["SizeRw"] >= 300 * 1024
        assert any("busybox:latest" in (i["RepoTags"] or []) for i in doc["Images"])
        r = d.docker("system", "df", "--format", "{{json .}}", check=True)
        assert [json.loads(x)["Type"] for x in r.stdout.splitlines()][:2] == ["Images",
                                                                            "Containers"]
    finally:
        d.docker("rm", unique)


def test_commit_with_changes(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    d.docker("run", "-d", "--name", unique, "busybox", "sh", "-c",
             "echo committed > /hello.txt; sleep 60", check=True)
    try:
        d.docker("exec", unique, "test", "-f", "/hello.txt", check=True)
        r = d.docker("commit", "-a", "tester", "-m", "a message", "-c", 'CMD ["cat", "/hello.txt"]',
                     "-c", "ENV MARK=yes", unique, f"{unique}:committed", check=True)
        assert r.stdout.startswith(b"sha256:")
        # the container was paused for the diff and runs on
        assert d.docker("inspect", "-f", "{{.State.Status}}", unique).stdout == b"running\n"
        assert d.docker("run", "--rm", f"{unique}:committed", check=True).stdout == b"committed\n"
        r = d.docker("run", "--rm", f"{unique}:committed", "sh", "-c", "echo $MARK", check=True)
        assert r.stdout == b"yes\n"
        hist = d.docker("history", "--format", "{{.Comment}}", f"{unique}:committed", check=True)
        assert hist.stdout.splitlines()[0] == b"a message"
        r = d.docker("commit", "-c", "BOGUS x", unique, f"{unique}:bad")
        assert r.returncode != 0 and b"BOGUS" in r.stderr
        assert d.docker("image", "inspect", f"{unique}:bad").returncode != 0
    finally:
        d.docker("rm", "-f", unique)
        d.docker("rmi", f"{unique}:committed")
