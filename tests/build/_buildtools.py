"""Helpers of the builder tests (a module of its own: ``conftest`` is not
importable by name when several test folders have one)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def copy_folder(name: str, dest: Path) -> Path:
    """Copy ``tests/build/<name>`` (a feature's Dockerfile and context) to ``dest``."""
    shutil.copytree(HERE / name, dest, symlinks=True, dirs_exist_ok=True)
    return dest


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


def unmount_under(d: str) -> None:
    for m in sorted((m for m in mounts_under(d) if m.startswith(d + "/") or m == d), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)
