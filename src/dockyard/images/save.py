"""``docker save``: images to a tar that is both a Docker archive and an OCI layout.

What current Docker writes, and what this writes by default
(``format="docker"``)::

    blobs/sha256/<hex>    every blob: index/manifest, config, layers
    index.json            OCI index: one entry per name (annotations
                          io.containerd.image.name, org.opencontainers.image.ref.name)
    manifest.json         Docker's: [{"Config": "blobs/sha256/…", "RepoTags": […],
                          "Layers": ["blobs/sha256/…", …]}]
    oci-layout            {"imageLayoutVersion": "1.0.0"}
    repositories          Docker's legacy {"repo": {"tag": "<top layer>"}}

``format="oci"`` leaves out ``manifest.json`` and ``repositories``: a plain
OCI image layout in a tar (skopeo's ``oci-archive:``).

Names follow ``docker save``: a reference with a tag saves that name; a
repository without a tag saves all of its tags; an image id saves the
image with no name. Tar headers are fixed (mtime 0, root-owned, 0644), so
the same images always give the same bytes. Blob data goes out with
``sendfile`` when the output is a real file.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from dockyard.oci import mediatypes as mt
from dockyard.oci.image import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
    Index,
    dump,
)

from . import graph
from .errors import InvalidArchiveError
from .model import Image
from .reference import parse, parse_normalized

if TYPE_CHECKING:
    from .service import ImageService

_BLOCK = 512


class _TarWriter:
    """A minimal ustar/pax writer: tarfile's own copies blob data 16 KiB at a
    time; this one hands whole blobs to ``sendfile``."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self._fd: int | None = None
        try:
            fd = out.fileno()
            os.fstat(fd)
            self._fd = fd
        except (AttributeError, OSError, io.UnsupportedOperation):
            self._fd = None

    def _info(self, name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode, ti.type = size, 0, 0o755 if kind == tarfile.DIRTYPE else 0o644, kind
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def directory(self, name: str) -> None:
        self.out.write(self._info(name.rstrip("/") + "/", 0, tarfile.DIRTYPE))

    def add_bytes(self, name: str, data: bytes) -> None:
        self.out.write(self._info(name, len(data)))
        self.out.write(data)
        self._pad(len(data))

    def add_file(self, name: str, f: BinaryIO, size: int) -> None:
        self.out.write(self._info(name, size))
        sent = 0
        if self._fd is not None:
            self.out.flush()
            src = f.fileno()
            while sent < size:
                n = os.sendfile(self._fd, src, sent, size - sent)
                if n == 0:
                    break
                sent += n
        else:
            while sent < size:
                chunk = f.read(min(1 << 20, size - sent))
                if not chunk:
                    break
                self.out.write(chunk)
                sent += len(chunk)
        if sent != size:
            raise InvalidArchiveError(f"save: blob {name} changed size while being written")
        self._pad(size)

    def _pad(self, size: int) -> None:
        rest = size % _BLOCK
        if rest:
            self.out.write(b"\0" * (_BLOCK - rest))

    def close(self) -> None:
        self.out.write(b"\0" * (_BLOCK * 2))
        self.out.flush()


def save(svc: ImageService, refs: Sequence[str], out: BinaryIO, *, format: str = "docker") -> None:
    """Write the images ``refs`` name to ``out`` (see the module docstring)."""
    if format not in ("docker", "oci"):
        raise InvalidArchiveError(f"save: unknown format {format!r}: expected docker or oci")
    if not refs:
        raise InvalidArchiveError("save: no images given")
    chosen: dict[str, tuple[Image, list[str]]] = {}
    for ref in refs:
        rec, name = svc._resolve(ref)
        img = svc._image(rec)
        names: list[str] = []
        if name is not None:
            named = parse_normalized(ref)
            if named.tag is None and named.digest is None:
                names = [n for n in rec.names if parse(n, default_tag=False).name == named.name
                         and parse(n, default_tag=False).tag is not None
                         and parse(n, default_tag=False).digest is None]
            elif parse(name, default_tag=False).digest is None:
                names = [name]
        entry = chosen.setdefault(img.id, (img, []))
        entry[1].extend(n for n in names if n not in entry[1])

    blobs: dict[str, int] = {}
    index_entries: list[Descriptor] = []
    manifest_json: list[dict[str, object]] = []
    repositories: dict[str, dict[str, str]] = {}
    for img, names in chosen.values():
        target = Descriptor(media_type=img.record.target.media_type,
                            digest=img.record.target.digest, size=img.record.target.size)
        for d, size in graph.reachable(svc.content, target).items():
            blobs.setdefault(d, size)
        for name in names or [None]:  # type: ignore[list-item]
            ann = {}
            if name is not None:
                r = parse(name)
                ann = {ANNOTATION_IMAGE_NAME: str(r), ANNOTATION_REF_NAME: r.tag or ""}
            index_entries.append(Descriptor(media_type=target.media_type, digest=target.digest,
                                            size=target.size, annotations=ann or None))
        layers = [_path(layer.digest) for layer in img.layers]
        manifest_json.append({
            "Config": _path(img.manifest.config.digest),
            "RepoTags": [parse(n).familiar() for n in names] or None,
            "Layers": layers,
        })
        if img.layers:
            for n in names:
                r = parse(n)
                repositories.setdefault(r.familiar_name(), {})[r.tag or "latest"] = \
                    img.layers[-1].digest.split(":", 1)[1]

    w = _TarWriter(out)
    w.directory("blobs")
    for algorithm in sorted({d.split(":", 1)[0] for d in blobs}):
        w.directory(f"blobs/{algorithm}")
    for d in sorted(blobs):
        with svc.content.open(d) as f:
            w.add_file(_path(d), f, svc.content.info(d).size)
    index = Index(schema_version=2, media_type=mt.OCI_INDEX, manifests=index_entries)
    w.add_bytes("index.json", dump(index))
    if format == "docker":
        w.add_bytes("manifest.json", json.dumps(manifest_json, separators=(",", ":")).encode())
    w.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    if format == "docker" and repositories:
        w.add_bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())
    w.close()


def _path(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"blobs/{algorithm}/{encoded}"
