"""``--output``: ``type=local,dest=DIR`` (the final filesystem, copied out) and
``type=tar,dest=FILE|-`` (the same as one tar), as buildx writes them."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dockyard.snapshot import mount_all, unmount_all
from dockyard.snapshot.diff import diff

from .errors import BuildError

if TYPE_CHECKING:
    from .solver import Builder


def parse_output(spec: str) -> dict[str, str]:
    """``type=local,dest=out`` (or a bare path: local) → fields."""
    if "=" not in spec and "," not in spec:
        return {"type": "tar" if spec == "-" else "local", "dest": spec}
    out: dict[str, str] = {}
    for part in spec.split(","):
        k, eq, v = part.partition("=")
        if not eq:
            raise BuildError(f"invalid --output {spec!r}: {part!r} must be key=value")
        out[k.strip()] = v
    kind = out.get("type", "")
    if kind not in ("local", "tar", "image", "docker"):
        raise BuildError(f"invalid --output {spec!r}: unsupported type {kind!r} (expected local, tar, image)")
    if kind in ("local", "tar") and not out.get("dest"):
        raise BuildError(f"invalid --output {spec!r}: dest= is required for type={kind}")
    return out


@contextlib.contextmanager
def _view(builder: Builder, chain: str) -> Iterator[str]:
    d = builder.new_workdir()
    key = builder.active_key()
    try:
        if chain:
            mounts = builder.images.snapshotter.view(key, chain)
            try:
                mount_all(mounts, d)
                try:
                    yield d
                finally:
                    unmount_all(d)
            finally:
                builder.images.snapshotter.remove(key)
        else:
            yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def export(builder: Builder, chain: str, output: dict[str, str]) -> None:
    dest = output["dest"]
    with _view(builder, chain) as root:
        if output["type"] == "local":
            os.makedirs(dest, exist_ok=True)
            shutil.copytree(root, dest, symlinks=True, dirs_exist_ok=True)
        elif dest == "-":
            diff(None, root, sys.stdout.buffer, compression="none")
        else:
            with open(dest, "wb") as f:
                diff(None, root, f, compression="none")
