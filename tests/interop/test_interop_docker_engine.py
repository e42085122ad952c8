"""Images cross between dockyard and Docker's own engine, both ways.

An image built by the dockyard daemon (``docker build``, the legacy protocol)
is saved, loaded into Debian's dockerd and run there; an image built by
dockerd is saved, loaded into dockyard and run here. Both daemons are private
(own roots and sockets); dockerd runs with ``--iptables=false --bridge=none``
so it touches no firewall table and makes no bridge, and the builds and runs
use ``--network none``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import DOCKER, Daemon, new_daemon

from dockyard.busybox import make_rootfs

pytestmark = pytest.mark.needs_root


class Dockerd:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="dyio-", dir="/tmp")  # socket path < 107 bytes
        self.sock = os.path.join(self.dir, "d.sock")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_BUILDKIT="0",
                        DOCKER_CONFIG=os.path.join(self.dir, "cli"))
        exe = shutil.which("dockerd")
        assert exe, "dockerd missing: scripts/install-deps.sh installs docker.io"
        self.log = open(os.path.join(self.dir, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(
            [exe, "--data-root", os.path.join(self.dir, "data"),
             "--exec-root", os.path.join(self.dir, "exec"),
             "--pidfile", os.path.join(self.dir, "dockerd.pid"), "-H", f"unix://{self.sock}",
             "--iptables=false", "--ip6tables=false", "--bridge=none"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version").returncode != 0:
            assert self.proc.poll() is None, open(self.log.name, errors="replace").read()[-2000:]
            assert time.monotonic() < deadline, "dockerd did not answer in 60 s"
            time.sleep(0.3)

    def docker(self, *args: str, input: bytes | None = None,
               check: bool = False) -> subprocess.CompletedProcess[bytes]:
        r = subprocess.run([DOCKER, *args], env=self.env, input=input, capture_output=True,
                           timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {r.returncode} {r.stderr!r}")
        return r

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        pid_file = os.path.join(self.dir, "exec", "containerd", "containerd.pid")
        try:  # its containerd, if it outlived dockerd
            os.kill(int(open(pid_file).read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        self.log.close()
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.dir + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = Dockerd()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def dockyard() -> Iterator[Daemon]:
    d = new_daemon()
    try:
        yield d
    finally:
        d.cleanup()


def _context(tmp: Path, who: str) -> Path:
    ctx = tmp / f"ctx-{who}"
    ctx.mkdir()
    (ctx / "greeting").write_text(f"built by {who}\n")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "COPY greeting /greeting\n"
        f"RUN echo layered >> /greeting && mkdir -p /data && echo {who} > /data/owner\n"
        'CMD ["sh", "-c", "cat /greeting /data/owner"]\n')
    return ctx


def test_dockyard_built_image_runs_under_docker(dockerd: Dockerd, dockyard: Daemon,
                                                 tmp_path: Path, unique: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")  # the legacy build protocol
    ctx = _context(tmp_path, "dockyard")
    tag = f"{unique}-from-dockyard:1"
    dockyard.docker("build", "--network", "none", "-t", tag, str(ctx), check=True)
    archive = tmp_path / "dockyard.tar"
    dockyard.docker("save", "-o", str(archive), tag, check=True)
    dockerd.docker("load", "-i", str(archive), check=True)
    r = dockerd.docker("run", "--rm", "--network", "none", tag, check=True)
    assert r.stdout == b"built by dockyard\nlayered\ndockyard\n"


def test_docker_built_image_runs_under_dockyard(dockerd: Dockerd, dockyard: Daemon,
                                                tmp_path: Path, unique: str) -> None:
    rootfs = make_rootfs(str(tmp_path / "rootfs"))
    tar = subprocess.run(["tar", "-C", rootfs, "-c", "."], capture_output=True, check=True)
    dockerd.docker("import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=tar.stdout,
                   check=True)
    ctx = _context(tmp_path, "docker")
    tag = f"{unique}-from-docker:1"
    dockerd.docker("build", "--network", "none", "-t", tag, str(ctx), check=True)
    archive = tmp_path / "docker.tar"
    dockerd.docker("save", "-o", str(archive), tag, check=True)
    dockyard.docker("load", "-i", str(archive), check=True)
    r = dockyard.docker("run", "--rm", "--network", "none", tag, check=True)
    assert r.stdout == b"built by docker\nlayered\ndocker\n"
