"""Broken connections: a pull resumes from the last byte written, with
``Range``, and a pull killed with SIGKILL mid-blob leaves no image and an
ingest the next pull continues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _clienttools import CuttingProxy
from _regtools import Running

from dockyard.distribution.client import RegistryOptions, pull, push
from dockyard.images import ImageService


def _serve_busybox(registry: Running, src: ImageService, repo: str) -> int:
    src.tag("busybox:latest", f"{registry.host}/{repo}")
    push(src, f"{registry.host}/{repo}")
    return src.get("busybox:latest").layers[0].size


def _target(registry: Running) -> tuple[str, int]:
    host, port = registry.host.rsplit(":", 1)
    return host, int(port)


def test_pull_resumes_after_broken_connections(registry: Running, busybox_store: ImageService,
                                               stores: Callable[[str], ImageService]) -> None:
    size = _serve_busybox(registry, busybox_store, "resume/bb:1")
    assert size > 1_500_000
    proxy = CuttingProxy(_target(registry), after=600_000, cuts=3)
    try:
        dst = stores("dst")
        [img] = pull(dst, f"{proxy.host}/resume/bb:1", options=RegistryOptions(retries=5))
    finally:
        proxy.close()
    assert img.id == busybox_store.get("busybox:latest").id
    assert proxy.cut_done == 3
    offsets = [int(r.removeprefix("bytes=").rstrip("-")) for r in proxy.ranges()]
    # Three resumes, each further on, none from the start.
    assert len(offsets) == 3 and offsets == sorted(offsets) and offsets[0] > 400_000, offsets
    assert dst.content.list_statuses() == []


def test_pull_gives_up_clearly_after_too_many_breaks(registry: Running, busybox_store: ImageService,
                                                     stores: Callable[[str], ImageService]) -> None:
    from dockyard.distribution.client.errors import RegistryUnreachableError

    _serve_busybox(registry, busybox_store, "resume/give-up:1")
    proxy = CuttingProxy(_target(registry), after=300_000, cuts=100)
    dst = stores("dst")
    try:
        try:
            pull(dst, f"{proxy.host}/resume/give-up:1", options=RegistryOptions(retries=2))
        except RegistryUnreachableError as e:
            assert "connection broken 3 times" in str(e), e
        else:
            raise AssertionError("the pull should have failed")
    finally:
        proxy.close()
    assert dst.list() == []


def test_kill_9_mid_pull_then_resume(registry: Running, busybox_store: ImageService,
                                     tmp_path: Path) -> None:
    size = _serve_busybox(registry, busybox_store, "resume/kill:1")
    proxy = CuttingProxy(_target(registry), after=1_600_000, cuts=1, stall=True)
    root = tmp_path / "killed"
    cmd = [sys.executable, "-c", "from dockyard.cli.main import main; main()", "pull", "-q",
           "--root", str(root), f"{proxy.host}/resume/kill:1"]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        ingest = root / "content" / "ingest"
        while time.monotonic() < deadline:
            sizes = [os.path.getsize(d / "data") for d in ingest.glob("*") if (d / "data").exists()] \
                if ingest.exists() else []
            if sizes and max(sizes) >= 1 << 20:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        else:
            raise AssertionError("the pull never wrote a MiB")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with ImageService.open(str(root), snapshotter="native") as svc:
            assert svc.list() == []  # nothing half-registered
            layer = busybox_store.get("busybox:latest").layers[0].digest
            [st] = [s for s in svc.content.list_statuses() if s.ref == f"pull-{layer}"]
            assert st.offset >= 1 << 20 and st.total == size
        # The next pull (the proxy no longer stalls) continues from there.
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == f"{proxy.host}/resume/kill:1"
    finally:
        proxy.close()
    resumed = [int(r.removeprefix("bytes=").rstrip("-")) for r in proxy.ranges()]
    assert resumed and resumed[0] >= 1 << 20, resumed
    with ImageService.open(str(root), snapshotter="native") as svc:
        assert svc.get(f"{proxy.host}/resume/kill:1").id == busybox_store.get("busybox:latest").id
        assert svc.content.list_statuses() == []
