"""``docker cp`` both ways, and the container's symlinks cannot reach the host."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root


def test_cp_both_ways_running_and_stopped(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    work = os.path.join(d.dir, unique)
    os.makedirs(work)
    d.docker("run", "-d", "--name", unique, "busybox", "sh", "-c",
             "mkdir -p /data/sub; echo hello > /data/sub/f; ln -s /etc /data/etclink; "
             "sleep 60", check=True)
    try:
        d.docker("exec", unique, "test", "-f", "/data/sub/f", check=True)
        d.docker("cp", f"{unique}:/data", work, check=True)
        assert open(f"{work}/data/sub/f").read() == "hello\n"
        assert os.readlink(f"{work}/data/etclink") == "/etc"  # a link stays a link
        src = os.path.join(work, "in.txt")
        with open(src, "w") as f:
            f.write("from the host\n")
        d.docker("cp", src, f"{unique}:/tmp/", check=True)
        d.docker("cp", src, f"{unique}:/tmp/renamed.txt", check=True)
        r = d.docker("exec", unique, "cat", "/tmp/in.txt", "/tmp/renamed.txt", check=True)
        assert r.stdout == b"from the host\n" * 2
        r = d.docker("cp", f"{unique}:/no/such/file", work)
        assert r.returncode != 0 and b"Could not find the file" in r.stderr
        d.docker("stop", "-t", "0", unique, check=True)
        d.docker("cp", f"{unique}:/tmp/in.txt", f"{work}/back.txt", check=True)
        assert open(f"{work}/back.txt").read() == "from the host\n"
        d.docker("cp", src, f"{unique}:/", check=True)
        d.docker("start", unique, check=True)
        assert d.docker("exec", unique, "cat", "/in.txt", check=True).stdout == b"from the host\n"
        # Into "/" of a running container: its root is the /proc/PID/root link.
        os.rename(src, os.path.join(work, "at-root.txt"))
        d.docker("cp", os.path.join(work, "at-root.txt"), f"{unique}:/", check=True)
        r = d.docker("exec", unique, "cat", "/at-root.txt", check=True)
        assert r.stdout == b"from the host\n"
    finally:
        d.docker("rm", "-f", unique)


def test_cp_symlinks_stay_inside_the_container(shared_daemon: Daemon, unique: str,
                                               short_tmp: object) -> None:
    d = shared_daemon
    marker = f"/tmp/{unique}-escape"
    d.docker("run", "-d", "--name", unique, "busybox", "sh", "-c",
             "ln -s / /rootlink; ln -s ../../../../../../../../ /up; "
             "ln -s /tmp /data; echo container > /etc/whoami; sleep 60", check=True)
    try:
        d.docker("exec", unique, "test", "-L", "/up", check=True)
        src = os.path.join(d.dir, f"{unique}-escape")
        with open(src, "w") as f:
            f.write("x\n")
        # Into the container through links that point at "/" and above it
        for dest in ("/up/tmp/", "/rootlink/tmp/", "/data/"):
            d.docker("cp", src, f"{unique}:{dest}", check=True)
            assert not os.path.exists(marker), f"cp through {dest} wrote on the host"
        assert d.docker("exec", unique, "ls", f"/tmp/{unique}-escape", check=True).returncode == 0
        # Out of the container through the same links: the container's files
        out = os.path.join(d.dir, f"{unique}-out")
        d.docker("cp", f"{unique}:/up/etc/whoami", out, check=True)
        assert open(out).read() == "container\n"
        # An archive with ../ entries is refused and writes nothing
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo(f"../../../../tmp/{unique}-evil")
            data = b"evil\n"
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        with d.api() as api:
            resp = api.put(f"/containers/{unique}/archive", params={"path": "/tmp"},
                           content=buf.getvalue())
        assert resp.status_code == 400
        assert not os.path.exists(f"/tmp/{unique}-evil")
    finally:
        d.docker("rm", "-f", unique)
        for p in (marker, f"/tmp/{unique}-evil"):
            if os.path.exists(p):
                os.unlink(p)
