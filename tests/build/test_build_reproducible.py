"""A rebuild with nothing changed gives the same image ID, as Docker's legacy builder does.

The config's ``created`` and each history entry's time come from the build
cache (when the step was first built), not from now(); ``--no-cache``
builds anew and so gets new times and a new ID.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.build import Builder, BuildOptions
from dockyard.images import ImageService

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import Daemon, new_daemon

DOCKYARD = str(Path(sys.executable).parent / "dockyard")

DOCKERFILE = """\
FROM busybox:latest
ARG FLAVOUR=plain
ENV GREETING=hello
WORKDIR /app
COPY data.txt ./data.txt
RUN echo "$GREETING $FLAVOUR" > /app/out.txt
LABEL kind=repro
CMD ["cat", "/app/out.txt"]
"""


def _context(ctx: Path) -> Path:
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "data.txt").write_text("some data\n")
    return ctx


def test_cached_rebuild_same_id_and_times(builder: Builder, store: ImageService, ctx: Path, unique: str) -> None:
    opts = BuildOptions(context=str(_context(ctx)), tags=[f"{unique}:a"], network="none")
    first = builder.build(opts)
    assert first.run_steps >= 2
    second = builder.build(opts)
    assert second.run_steps == 0 and second.cached_steps >= 2
    assert second.image_id == first.image_id
    img = store.get(f"{unique}:a")
    hist = img.config.history or []
    # every step of this build has a time, the image's time is its last step's
    assert all(h.created for h in hist)
    assert img.config.created == hist[-1].created
    # a changed copied file reruns from there: a new ID, the steps before keep their times
    (ctx / "data.txt").write_text("other data\n")
    third = builder.build(opts)
    assert third.image_id != first.image_id and third.run_steps == 2
    hist3 = store.get(f"{unique}:a").config.history or []
    n = len(hist) - 4  # FROM's history, ARG, ENV, WORKDIR stay; COPY, RUN, LABEL, CMD are new
    assert [h.created for h in hist3[:n]] == [h.created for h in hist[:n]]
    assert hist3[-1].created != hist[-1].created
    # --no-cache builds anew: new times, new ID
    fresh = builder.build(BuildOptions(context=str(ctx), tags=[f"{unique}:a"], network="none", no_cache=True))
    assert fresh.run_steps >= 2 and fresh.image_id != third.image_id
    again = builder.build(opts)
    assert again.run_steps == 0 and again.image_id == fresh.image_id


def test_cli_rebuild_same_id(store: ImageService, ctx: Path, unique: str) -> None:
    root = os.path.dirname(store.content.root)  # type: ignore[attr-defined]
    _context(ctx)

    def build() -> str:
        p = subprocess.run([DOCKYARD, "build", "-q", "--root", root, "--network", "none",
                            "-t", f"{unique}:cli", str(ctx)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    first = build()
    assert first.startswith("sha256:") and build() == first


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    d = new_daemon()
    try:
        yield d
    finally:
        d.cleanup()


def test_docker_cli_rebuild_same_id(daemon: Daemon, ctx: Path, unique: str) -> None:
    _context(ctx)
    os.environ["DOCKER_BUILDKIT"] = "0"  # the docker CLI reads it from its environment
    try:
        ids = []
        for _ in range(2):
            r = daemon.docker("build", "-q", "--network", "none", "-t", f"{unique}:docker", str(ctx), timeout=60)
            assert r.returncode == 0, r.stderr
            ids.append(r.stdout.decode().strip())
    finally:
        del os.environ["DOCKER_BUILDKIT"]
    assert ids[0].startswith("sha256:") and ids[0] == ids[1]
    r = daemon.docker("run", "--rm", "--network", "none", f"{unique}:docker", timeout=60)
    assert r.stdout == b"hello plain\n", r.stderr
