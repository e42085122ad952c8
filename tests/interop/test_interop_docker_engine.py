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
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import Daemon, new_daemon
from dockerd_helpers import Dockerd

from dockyard.busybox import make_rootfs

pytestmark = pytest.mark.needs_root


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = Dockerd("dyio-")
    try:
        yield d.start()
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
