"""Volumes and binds through the engine: -v, --mount, docker volume, rm -v, --rm."""

from __future__ import annotations

import json
import os

import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root


def test_named_bind_and_anonymous(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    vol = f"{unique}-vol"
    d.docker("volume", "create", vol, check=True)
    try:
        d.docker("run", "--rm", "-v", f"{vol}:/data", "busybox", "sh", "-c",
                 "echo kept > /data/f", check=True)
        r = d.docker("run", "--rm", "--mount", f"type=volume,source={vol},target=/v",
                     "busybox", "cat", "/v/f", check=True)
        assert r.stdout == b"kept\n"
        host = os.path.join(d.dir, unique)
        os.makedirs(host)
        with open(os.path.join(host, "h"), "w") as f:
            f.write("from host\n")
        r = d.docker("run", "--rm", "-v", f"{host}:/h:ro", "busybox", "sh", "-c",
                     "cat /h/h; touch /h/new 2>/dev/null || echo refused")
        assert r.stdout == b"from host\nrefused\n"
        assert not os.path.exists(os.path.join(host, "new"))
        # in use: no removal
        d.docker("run", "-d", "--name", unique, "-v", f"{vol}:/data", "-v", "/anon",
                 "busybox", "sleep", "60", check=True)
        r = d.docker("volume", "rm", vol)
        assert r.returncode != 0 and b"in use" in r.stderr
        mounts = json.loads(d.docker("inspect", "-f", "{{json .Mounts}}", unique,
                                     check=True).stdout)
        assert sorted(m["Destination"] for m in mounts) == ["/anon", "/data"]
        anon = next(m["Name"] for m in mounts if m["Destination"] == "/anon")
        d.docker("rm", "-f", "-v", unique, check=True)  # -v: the anonymous one goes
        names = d.docker("volume", "ls", "-q", check=True).stdout.split()
        assert anon.encode() not in names and vol.encode() in names
        r = d.docker("run", "--rm", "-v", "/x:/y:zz", "busybox", "true")
        assert r.returncode == 125 and b"invalid" in r.stderr.lower()
    finally:
        d.docker("rm", "-f", unique)
        d.docker("volume", "rm", vol)
