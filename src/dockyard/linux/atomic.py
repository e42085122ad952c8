"""Crash-safe writes: a reader sees the old file or the new one, never half.

The recipe is the usual one: write a temp file in the same directory, fsync
it, rename it over the target, fsync the directory so the rename itself is
durable. A ``kill -9`` at any point leaves either the old content or the new,
plus at worst a ``.tmp-*`` file that ``cleanup_temps`` removes.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

TEMP_PREFIX = ".tmp-"


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: str, data: bytes, mode: int = 0o644, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``sync=False`` skips the fsyncs (still atomic against a crash of this
    process, not against power loss): for run-time state under /run, which
    does not outlive a reboot anyway.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if sync:
        fsync_dir(directory)


def write_json(path: str, obj: Any, mode: int = 0o644, *, sync: bool = True) -> None:
    write_bytes(path, json.dumps(obj, separators=(",", ":")).encode(), mode, sync=sync)


def cleanup_temps(directory: str) -> int:
    """Remove temp files a crash left behind; returns how many."""
    n = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in names:
        if name.startswith(TEMP_PREFIX):
            try:
                os.unlink(os.path.join(directory, name))
                n += 1
            except OSError:
                pass
    return n
