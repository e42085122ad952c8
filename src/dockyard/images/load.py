"""``docker load``: images from a ``docker save`` archive or an OCI image layout.

Accepted inputs (a tar stream — plain, gzip, zstd, bzip2 or xz — or an OCI
layout directory as ``skopeo copy … oci:DIR`` writes it):

- the OCI image layout (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``),
  which is also what current Docker's ``docker save`` writes; names come
  from the ``io.containerd.image.name`` annotation, or from
  ``org.opencontainers.image.ref.name`` when it is a full reference;
- Docker's archive format (``manifest.json`` with ``Config``, ``RepoTags``
  and ``Layers`` paths, ``repositories``), from any Docker version or
  skopeo's ``docker-archive:`` (layer files may be symlinks to one another,
  as older writers do). Without an OCI manifest in the archive, one is
  written here from the config and the layers.

The archive is read once, in stream order: every regular file goes straight
into the content store under a lease (files at ``blobs/<alg>/<hex>`` are
verified against their name while they stream), small JSON documents are
also kept in memory. An uncompressed archive in a regular file (``-i FILE``)
is not streamed: tarfile reads its headers and each blob is copied out by
offset (``copy_file_range``), never passing through Python. The blobs are
written one-shot (``durable=False``): each is fsynced, and the store's
directory once, by ``register_many``, before the images are recorded. Only then are ``index.json``/``manifest.json`` read,
every image checked (manifest digests and sizes, media types, config,
layers and their diff IDs), and all images registered. A bad archive
raises ``InvalidArchiveError``/``InvalidImageError`` naming the entry and
registers nothing; the lease going away lets GC take what was written.

Entries that would escape the archive (absolute names, ``..``, links
pointing outside it) and special files are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import is_digest
from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.image import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
    Manifest,
    dump,
    load_image_config,
    load_index,
)
from dockyard.snapshot import compression
from dockyard.snapshot import errors as snapshot_errors

from .errors import InvalidArchiveError, InvalidImageError, InvalidReferenceError
from .model import Image
from .reference import parse
from .streams import Bounded, FileRange, Peekable

if TYPE_CHECKING:
    from .service import ImageService

_KEEP = 256 << 10  # files up to this size are kept in memory too (manifests, configs)
_METADATA = {"manifest.json", "index.json", "oci-layout", "repositories"}


@dataclass
class _Archive:
    blobs: dict[str, tuple[str, int]]  # path -> (digest, size)
    small: dict[str, bytes]  # path -> content, for small files
    links: dict[str, str]  # path -> path it points to


def load(svc: ImageService, source: BinaryIO | str) -> list[str]:
    """Load every image of ``source``; returns Docker's lines
    (``Loaded image: busybox:latest`` or ``Loaded image ID: sha256:…``)."""
    lease = svc.new_lease()
    try:
        try:
            if isinstance(source, str) and os.path.isdir(source):
                archive = _read(svc, _dir_entries(source), lease)
            elif isinstance(source, str):
                with open(source, "rb") as f:
                    archive = _read(svc, _entries(f, svc.limits.max_bytes), lease)
            else:
                archive = _read(svc, _entries(source, svc.limits.max_bytes), lease)
        except tarfile.TarError as e:
            raise InvalidArchiveError(f"load: not a valid tar archive: {e}") from None
        except snapshot_errors.LayerError as e:
            raise InvalidArchiveError(f"load: {e}") from None
        except EOFError as e:
            raise InvalidArchiveError(f"load: truncated archive: {e}") from None
        plan = _plan(svc, archive, lease)
        if not plan:
            raise InvalidArchiveError("load: the archive holds no image")
        images: list[Image] = svc.register_many(plan)
    finally:
        svc.content.delete_lease(lease)
    lines = []
    for (_, names), img in zip(plan, images, strict=True):
        if names:
            lines += [f"Loaded image: {parse(n).familiar()}" for n in names]
        else:
            lines.append(f"Loaded image ID: {img.id}")
    return lines


# --- reading entries ---------------------------------------------------------------


@dataclass
class _Entry:
    name: str
    kind: str  # "file", "dir", "symlink", "hardlink"
    size: int = 0
    linkname: str = ""
    fileobj: IO[bytes] | None = None
    range: FileRange | None = None  # instead of fileobj: where the bytes are in a plain file


def _clean(name: str, what: str = "entry", *, link: bool = False) -> str:
    if name.startswith("/"):
        raise InvalidArchiveError(f"archive {what} {name!r} refused: absolute path")
    norm = posixpath.normpath(name)
    # Names may not say ".." at all; link targets may, if they stay inside.
    if norm == ".." or norm.startswith("../") or (not link and ".." in name.split("/")):
        raise InvalidArchiveError(f"archive {what} {name!r} refused: path escapes the archive (..)")
    return norm


def _tar_entries(stream: BinaryIO, limit: int) -> Iterator[_Entry]:
    raw = Peekable(stream)
    kind = compression.detect(raw.peek(6))
    reader: Any = raw
    if kind != "none":
        reader = Bounded(compression.Decompressed(compression.HashingSource(raw), kind), limit,
                         InvalidArchiveError)
    try:
        with tarfile.open(fileobj=reader, mode="r|", bufsize=1 << 20) as tar:
            for m in tar:
                yield _member_entry(tar, m)
    except tarfile.TarError as e:
        raise InvalidArchiveError(f"load: not a valid tar archive: {e}") from None
    except snapshot_errors.LayerError as e:
        raise InvalidArchiveError(f"load: {e}") from None
    except EOFError as e:
        raise InvalidArchiveError(f"load: truncated archive: {e}") from None


def _entries(f: BinaryIO, limit: int) -> Iterator[_Entry]:
    """A regular file is read by offset (``-i FILE``, or stdin redirected from
    one); anything else (a pipe, a FIFO named by ``-i``) as a stream."""
    return _file_entries(f, limit) if _is_regular_file(f) else _tar_entries(f, limit)


def _is_regular_file(f: BinaryIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(f.fileno()).st_mode) and f.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def _file_entries(f: BinaryIO, limit: int) -> Iterator[_Entry]:
    """The entries of an archive in a regular file. An uncompressed one is
    read by offset: tarfile reads only the headers (seeking past the data)
    and each blob is copied out of the file by the kernel; a compressed
    one is streamed like a pipe."""
    fd = f.fileno()
    start = f.tell()
    end = os.fstat(fd).st_size
    if compression.detect(os.pread(fd, 6, start)) != "none":
        yield from _tar_entries(f, limit)
        return
    try:
        with tarfile.open(fileobj=f, mode="r:") as tar:
            for m in tar:
                if m.isreg() and m.sparse is None:
                    if m.offset_data + m.size > end:
                        raise InvalidArchiveError(
                            f"load: truncated archive: entry {m.name!r} ends past the end of "
                            f"the file"
                        )
                    yield _Entry(m.name, "file", m.size,
                                 range=FileRange(fd, m.offset_data, m.size))
                else:
                    yield _member_entry(tar, m)
    except tarfile.TarError as e:
        raise InvalidArchiveError(f"load: not a valid tar archive: {e}") from None
    except EOFError as e:
        raise InvalidArchiveError(f"load: truncated archive: {e}") from None


def _member_entry(tar: tarfile.TarFile, m: tarfile.TarInfo) -> _Entry:
    if m.isdir():
        return _Entry(m.name, "dir")
    if m.isreg():
        return _Entry(m.name, "file", m.size, fileobj=tar.extractfile(m))
    if m.issym():
        return _Entry(m.name, "symlink", linkname=m.linkname)
    if m.islnk():
        return _Entry(m.name, "hardlink", linkname=m.linkname)
    raise InvalidArchiveError(
        f"archive entry {m.name!r} refused: only files, directories and links "
        f"belong in an image archive"
    )


def _dir_entries(root: str) -> Iterator[_Entry]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                yield _Entry(rel, "symlink", linkname=os.readlink(full))
            elif os.path.isfile(full):
                with open(full, "rb") as f:
                    yield _Entry(rel, "file", os.fstat(f.fileno()).st_size, fileobj=f)
            else:
                raise InvalidArchiveError(f"layout entry {rel!r} refused: not a regular file")


def _read(svc: ImageService, entries: Iterator[_Entry], lease: str) -> _Archive:
    archive = _Archive({}, {}, {})
    for e in entries:
        name = _clean(e.name)
        if e.kind == "dir":
            continue
        if e.kind == "symlink":
            if e.linkname.startswith("/"):
                raise InvalidArchiveError(f"archive entry {e.name!r} refused: absolute symlink")
            archive.links[name] = _clean(posixpath.join(posixpath.dirname(name), e.linkname),
                                         f"symlink {e.name!r} ->", link=True)
            continue
        if e.kind == "hardlink":
            archive.links[name] = _clean(e.linkname, f"hardlink {e.name!r} ->")
            continue
        assert e.fileobj is not None or e.range is not None
        base = posixpath.basename(name)
        if name in _METADATA or base in ("json", "VERSION"):
            if e.size > _KEEP:
                raise InvalidArchiveError(f"archive entry {name!r} is too large ({e.size} bytes)")
            archive.small[name] = _read_all(e)
            continue
        expected = _blob_digest(name)
        source: bytes | IO[bytes] | FileRange
        if e.size <= _KEEP:
            data = _read_all(e)
            if len(data) != e.size:
                raise InvalidArchiveError(f"archive entry {name!r} is truncated")
            archive.small[name] = data
            source = data
        else:
            source = e.range if e.range is not None else e.fileobj  # type: ignore[assignment]
        try:
            # Not durable one by one: register_many syncs the store once.
            written, size = svc.write_blob(source, lease=lease, expected=expected, size=e.size,
                                           durable=False)
        except InvalidImageError as err:
            raise InvalidArchiveError(f"archive entry {name!r}: {err}") from None
        archive.blobs[name] = (str(written), size)
    return archive


def _read_all(e: _Entry) -> bytes:
    if e.range is not None:
        return os.pread(e.range.fd, e.range.size, e.range.offset)
    assert e.fileobj is not None
    return e.fileobj.read()


def _blob_digest(name: str) -> str | None:
    """``blobs/sha256/<hex>`` → ``sha256:<hex>`` (verified while written)."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        d = f"{parts[1]}:{parts[2]}"
        if is_digest(d):
            return d
    return None


# --- planning ------------------------------------------------------------------------


def _resolve(archive: _Archive, path: str, what: str) -> str:
    seen = 0
    p = _clean(path, what)
    while p in archive.links:
        p = archive.links[p]
        seen += 1
        if seen > 16:
            raise InvalidArchiveError(f"archive: {what} {path!r}: too many levels of links")
    if p not in archive.blobs and p not in archive.small:
        raise InvalidArchiveError(f"archive: {what} {path!r} is not in the archive")
    return p


def _json(archive: _Archive, path: str) -> Any:
    try:
        return json.loads(archive.small[path])
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArchiveError(f"archive: {path} is not valid JSON: {e}") from None


def _plan(svc: ImageService, archive: _Archive, lease: str) -> list[tuple[Descriptor, list[str]]]:
    plan: dict[str, tuple[Descriptor, list[str]]] = {}
    by_config: dict[str, str] = {}  # config digest -> target digest, for manifest.json's names
    if "index.json" in archive.small:
        try:
            index = load_index(archive.small["index.json"])
        except InvalidSpecError as e:
            raise InvalidArchiveError(f"archive: index.json: {e}") from None
        for i, desc in enumerate(index.manifests):
            if not (mt.is_manifest(desc.media_type) or mt.is_index(desc.media_type)):
                raise InvalidImageError(
                    f"archive: index.json: $.manifests[{i}].mediaType {desc.media_type!r} is not "
                    f"an image manifest or index"
                )
            names = _names_of(desc)
            entry = plan.setdefault(desc.digest, (desc, []))
            entry[1].extend(n for n in names if n not in entry[1])
            config = _config_of(svc, desc)
            if config:
                by_config[config] = desc.digest
    if "manifest.json" in archive.small:
        entries = _json(archive, "manifest.json")
        if not isinstance(entries, list):
            raise InvalidArchiveError("archive: manifest.json: expected a JSON array")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise InvalidArchiveError(f"archive: manifest.json: [{i}].Config: expected a path")
            tags = entry.get("RepoTags") or []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise InvalidArchiveError(f"archive: manifest.json: [{i}].RepoTags: expected strings")
            try:
                names = [str(parse(t)) for t in tags]
            except InvalidReferenceError as e:
                raise InvalidArchiveError(f"archive: manifest.json: [{i}].RepoTags: {e}") from None
            cfg_path = _resolve(archive, entry["Config"], "config")
            cfg_digest = _digest_of_path(archive, cfg_path)
            if cfg_digest in by_config:
                desc, known = plan[by_config[cfg_digest]]
                known.extend(n for n in names if n not in known)
                continue
            desc = _manifest_for(svc, archive, entry, i, cfg_path, lease)
            plan.setdefault(desc.digest, (desc, []))[1].extend(names)
    if "index.json" not in archive.small and "manifest.json" not in archive.small:
        raise InvalidArchiveError(
            "load: the archive has neither manifest.json nor index.json: it is not a "
            "docker save archive or an OCI image layout"
        )
    return list(plan.values())


def _digest_of_path(archive: _Archive, path: str) -> str:
    if path in archive.blobs:
        return archive.blobs[path][0]
    return "sha256:" + hashlib.sha256(archive.small[path]).hexdigest()


def _names_of(desc: Descriptor) -> list[str]:
    ann = desc.annotations or {}
    for key in (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME):
        value = ann.get(key)
        if not value:
            continue
        # A bare tag (skopeo's "oci:dir:tag") names no repository: skip it.
        if key == ANNOTATION_REF_NAME and "/" not in value and ":" not in value:
            continue
        try:
            return [str(parse(value))]
        except InvalidReferenceError as e:
            raise InvalidArchiveError(f"archive: index.json: annotation {key}={value!r}: {e}") from None
    return []


def _config_of(svc: ImageService, desc: Descriptor) -> str | None:
    if not mt.is_manifest(desc.media_type) or not svc.content.exists(desc.digest):
        return None
    try:
        return str(json.loads(svc.content.read(desc.digest))["config"]["digest"])
    except (ValueError, KeyError, TypeError):
        return None


def _manifest_for(
    svc: ImageService, archive: _Archive, entry: dict[str, Any], i: int, cfg_path: str, lease: str
) -> Descriptor:
    """Write the OCI manifest of a ``manifest.json`` entry (Docker archives carry none)."""
    if cfg_path in archive.small:
        cfg_bytes = archive.small[cfg_path]
    else:
        cfg_bytes = svc.content.read(archive.blobs[cfg_path][0])
    try:
        config = load_image_config(cfg_bytes)
    except InvalidSpecError as e:
        raise InvalidImageError(f"archive: {cfg_path}: {e}") from None
    cfg_digest, _ = svc.write_blob(cfg_bytes, lease=lease, durable=False)
    layer_paths = entry.get("Layers") or []
    if not isinstance(layer_paths, list) or not all(isinstance(p, str) for p in layer_paths):
        raise InvalidArchiveError(f"archive: manifest.json: [{i}].Layers: expected paths")
    diff_ids = config.rootfs.diff_ids
    if len(layer_paths) != len(diff_ids):
        raise InvalidImageError(
            f"archive: manifest.json: [{i}] lists {len(layer_paths)} layers but {cfg_path} has "
            f"{len(diff_ids)} diff_ids"
        )
    layers = []
    for path, diff_id in zip(layer_paths, diff_ids, strict=True):
        p = _resolve(archive, path, "layer")
        if p not in archive.blobs:
            written, size = svc.write_blob(archive.small[p], lease=lease, durable=False)
            digest = str(written)
        else:
            digest, size = archive.blobs[p]
        media_type = _layer_type(svc, path, digest, diff_id)
        layers.append(Descriptor(media_type=media_type, digest=digest, size=size))
    manifest = Manifest(
        schema_version=2,
        media_type=mt.OCI_MANIFEST,
        config=Descriptor(media_type=mt.OCI_CONFIG, digest=cfg_digest, size=len(cfg_bytes)),
        layers=layers,
    )
    data = dump(manifest)
    digest, size = svc.write_blob(data, lease=lease, durable=False)
    return Descriptor(media_type=mt.OCI_MANIFEST, digest=digest, size=size)


def _layer_type(svc: ImageService, path: str, digest: str, diff_id: str) -> str:
    """The layer's media type; a compressed layer's content must hash to ``diff_id``."""
    if digest == diff_id:
        return mt.OCI_LAYER
    with svc.content.open(digest) as f:
        src = compression.HashingSource(f)
        kind = compression.detect(src.peek(6))
        if kind not in ("gzip", "zstd"):
            raise InvalidImageError(
                f"archive: layer {path!r} has digest {digest} but the config's diff ID is {diff_id}"
            )
        reader = compression.Decompressed(src, kind)
        h = hashlib.sha256()
        try:
            while chunk := reader.read(1 << 20):
                h.update(chunk)
        except snapshot_errors.LayerError as e:
            raise InvalidArchiveError(f"archive: layer {path!r}: {e}") from None
    if "sha256:" + h.hexdigest() != diff_id:
        raise InvalidImageError(
            f"archive: layer {path!r}: uncompressed content has digest sha256:{h.hexdigest()}, "
            f"the config's diff ID is {diff_id}"
        )
    return mt.OCI_LAYER_GZIP if kind == "gzip" else mt.OCI_LAYER_ZSTD
