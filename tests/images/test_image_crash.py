"""``kill -9`` in the middle of a load or an import: the image is fully there
or not listed, and the next open collects what the dead process left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from dockyard.images import ImageService
from dockyard.snapshot import Kind

_LOADER = """
import sys
import tarfile
from dockyard.images import ImageService
from dockyard.snapshot import Kind
svc = ImageService.open(sys.argv[1])
if sys.argv[2] == "load":
    svc.load(sys.stdin.buffer)
else:
    svc.import_image(sys.stdin.buffer, "crash:1")
print("done", flush=True)
"""


def _ingests(root: Path) -> int:
    d = root / "content" / "ingest"
    return len(os.listdir(d)) if d.exists() else 0


def _blobs(root: Path) -> int:
    d = root / "content" / "blobs" / "sha256"
    return len(os.listdir(d)) if d.exists() else 0


def _run_and_kill(root: Path, verb: str, data: bytes, cut: int, ready: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _LOADER, str(root), verb],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(data[:cut])
    proc.stdin.flush()
    # Wait until the loader is busy writing (an ingest exists) or has written blobs.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (ready == "ingest" and _ingests(root)) or (ready == "blobs" and _blobs(root) >= 3):
            break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail(f"the loader never got to {ready}")
    time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _check_clean(root: Path) -> None:
    with ImageService.open(str(root)) as svc:  # cleanup at open finds the dead pid's lease
        assert svc.list() == []
        assert list(svc.content.list()) == []
        assert svc.content.list_statuses() == [] and svc.content.list_leases() == []


@pytest.mark.parametrize("ready", ["ingest", "blobs"])
def test_kill_during_load(busybox: ImageService, tmp_path: Path, ready: str) -> None:
    archive = tmp_path / "bb.tar"
    with open(archive, "wb") as f:
        busybox.save(["busybox"], f)
    data = archive.read_bytes()
    root = tmp_path / "victim"
    # "ingest": cut inside the layer blob; "blobs": every blob written, index.json not yet.
    with tarfile.open(archive) as t:
        cut = len(data) // 2 if ready == "ingest" else t.getmember("index.json").offset
    _run_and_kill(root, "load", data, cut, ready)
    _check_clean(root)
    # And the store still works: the same archive loads completely afterwards.
    with ImageService.open(str(root)) as svc:
        assert svc.load(str(archive)) == ["Loaded image: busybox:latest"]
        assert svc.get("busybox").id == busybox.get("busybox").id


def test_kill_during_import(busybox_tar: Path, tmp_path: Path) -> None:
    data = busybox_tar.read_bytes()
    root = tmp_path / "victim"
    _run_and_kill(root, "import", data, len(data) // 2, "ingest")
    _check_clean(root)


def test_dead_unpack_leftovers_removed(busybox: ImageService, tmp_path: Path) -> None:
    # What a process killed mid-unpack leaves: an active extract snapshot, an
    # ingest and a lease, all named with its (now dead) pid.
    dead = subprocess.Popen(["true"])
    dead.wait()
    busybox.snapshotter.prepare(f"extract-{dead.pid}-deadbeef sha256:{'0' * 64}")
    lease = busybox.content.create_lease(f"dockyard-images-{dead.pid}-x-lease",
                                         labels={"dockyard.images/pid": str(dead.pid)})
    with busybox.content.writer(f"dockyard-images-{dead.pid}-x-1", lease=lease.id) as w:
        w.write(b"half a layer")
    root = busybox.snapshotter.root.rsplit("/snapshots/", 1)[0]
    with ImageService.open(root) as again:
        assert again.snapshotter.walk(kind=Kind.ACTIVE) == []
        assert again.content.list_statuses() == [] and again.content.list_leases() == []
        assert [i["RepoTags"] for i in again.list()] == [["busybox:latest"]]
