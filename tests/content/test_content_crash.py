"""``kill -9`` of a writing process: only an ingest is left, which a resumed
write completes or ``gc()`` removes; the store stays consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.content import LocalStore
from dockyard.oci.digest import digest_of

DATA = os.urandom(4 << 20)
CHUNK = 1 << 20

# Writes half the blob in 1 MiB chunks (each goes straight to the file),
# says so, then waits to be killed.
SCRIPT = """
import sys, time
from dockyard.content import LocalStore
root, ref, digest, path = sys.argv[1:5]
data = open(path, "rb").read()
w = LocalStore(root).writer(ref, digest, len(data))
for i in range(0, len(data) // 2, 1 << 20):
    w.write(data[i:i + (1 << 20)])
print(w.status().offset, flush=True)
time.sleep(60)
"""


def _kill_mid_write(root: str, ref: str, src: Path) -> int:
    p = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, root, ref, digest_of(DATA), str(src)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None
        offset = int(p.stdout.readline())
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    return offset


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "blob"
    path.write_bytes(DATA)
    return path


def test_kill_9_then_resume(tmp_path: Path, src: Path) -> None:
    root = str(tmp_path / "content")
    offset = _kill_mid_write(root, "pull-layer", src)
    assert offset == len(DATA) // 2
    store = LocalStore(root)
    assert list(store.list()) == []  # nothing half-published
    st = store.status("pull-layer")
    assert st.offset == offset and st.total == len(DATA) and st.expected == digest_of(DATA)
    # The dead writer's lock died with it: a new writer takes over and resumes.
    w = store.writer("pull-layer")
    assert w.offset == offset
    w.write(DATA[offset:])
    info = w.commit()
    assert info.digest == digest_of(DATA) and store.read(info.digest) == DATA
    assert store.list_statuses() == []
    store.close()


def test_kill_9_then_gc(tmp_path: Path, src: Path) -> None:
    root = str(tmp_path / "content")
    _kill_mid_write(root, "doomed", src)
    store = LocalStore(root)
    assert store.gc().ingests_removed == []  # young: kept for a resume
    result = store.gc(ingest_cutoff=0)
    assert result.ingests_removed == ["doomed"] and result.bytes_freed == len(DATA) // 2
    assert os.listdir(os.path.join(root, "ingest")) == []
    assert store.usage() == {} and store.list_statuses() == []
    store.close()
