"""Our layers against another implementation: GNU tar reads what ``diff``
writes, and ``apply_layer`` reads what GNU tar writes (xattrs with
``security.capability``, devices, hard links, setuid, owners, mtimes)."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from snapshot_helpers import CAP_NET_BIND, tree_state

from dockyard.snapshot import apply_layer, diff

pytestmark = pytest.mark.needs_root

GNU_XATTRS = ["--xattrs", "--xattrs-include=*", "--numeric-owner"]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin/busybox").write_bytes(b"\x7fELF" * 1000)
    os.link(src / "bin/busybox", src / "bin/ls")
    os.symlink("/bin/busybox", src / "bin/sh")
    (src / "bin/ping").write_bytes(b"ping")
    os.chmod(src / "bin/ping", 0o4755)
    os.setxattr(src / "bin/ping", "security.capability", CAP_NET_BIND)
    (src / "dev").mkdir()
    os.mknod(src / "dev/null", 0o20666, os.makedev(1, 3))
    os.mkfifo(src / "dev/fifo")
    (src / "home/u").mkdir(parents=True)
    (src / "home/u/f").write_text("x")
    os.chown(src / "home/u", 1000, 1001)
    os.chown(src / "home/u/f", 1000, 1001)
    os.utime(src / "home/u/f", (1_600_000_000, 1_600_000_000))
    return src


def test_gnu_tar_reads_our_layers(source: Path, tmp_path: Path) -> None:
    out = io.BytesIO()
    diff(None, str(source), out, compression="gzip")
    dest = tmp_path / "gnu"
    dest.mkdir()
    subprocess.run(["tar", *GNU_XATTRS, "-xzpf", "-", "-C", str(dest)],
                   input=out.getvalue(), check=True)
    assert tree_state(str(dest)) == tree_state(str(source))


def test_we_read_gnu_tar_layers(source: Path, tmp_path: Path) -> None:
    layer = subprocess.run(
        ["tar", *GNU_XATTRS, "--format=posix", "-czpf", "-", "-C", str(source), "."],
        check=True, capture_output=True,
    ).stdout
    dest = tmp_path / "ours"
    dest.mkdir()
    r = apply_layer(io.BytesIO(layer), str(dest))
    assert r.compression == "gzip"
    assert tree_state(str(dest)) == tree_state(str(source))
