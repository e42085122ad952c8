"""``docker import``: an image of one layer from a rootfs tarball or a directory.

The tarball may be plain, gzip, zstd, bzip2 or xz (read through
``snapshot.compression``); it is stored uncompressed, so the layer's digest
is its diff ID and ``save`` writes it as is. A directory is turned into a
tar by the snapshot package's ``diff`` (ownership, xattrs, hardlinks and
device nodes kept). The tar's headers are checked before anything is
registered: a truncated or corrupt tar, or an entry that climbs out of the
root (``../``), is refused with its name, and the image is not created.

The config follows Docker's ``image_import.go``: architecture/os from
``--platform`` (default the service's), ``--change`` lines applied to an
empty container config, ``comment`` and one history entry saying
``Imported from -`` (or the ``--message``). The written blobs are held by a
lease until the image is registered, so a ``kill -9`` leaves only blobs
that the next cleanup collects.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO

from dockyard.oci import mediatypes as mt
from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.image import (
    Descriptor,
    History,
    ImageConfig,
    Manifest,
    Platform,
    RootFS,
    dump,
    parse_platform,
)
from dockyard.snapshot import compression, diff
from dockyard.snapshot import errors as snapshot_errors

from .changes import apply_changes, parse_changes
from .errors import InvalidArchiveError, InvalidImageError
from .inspect import rfc3339
from .model import Image, dump_config
from .reference import parse
from .streams import Available, Bounded

if TYPE_CHECKING:
    from .service import ImageService


class _WriterIO:
    """A content writer seen as a write-only binary file (for ``diff``)."""

    def __init__(self, writer: object) -> None:
        self._w = writer

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._w.write(data)  # type: ignore[attr-defined]
        return len(data)

    def flush(self) -> None:
        pass


def import_image(
    svc: ImageService,
    source: BinaryIO | str,
    ref: str | None = None,
    *,
    changes: Iterable[str] = (),
    message: str = "",
    platform: Platform | str | None = None,
    source_name: str = "-",
) -> Image:
    """Import ``source`` (a binary stream, a tarball path or a directory) as
    an image named ``ref`` (none: a dangling image). Returns the image."""
    names = [str(parse(ref))] if ref else []
    change_list = parse_changes(changes)
    try:
        plat = parse_platform(platform) if isinstance(platform, str) else platform or svc.platform
    except InvalidSpecError as e:
        raise InvalidImageError(str(e)) from None
    container_config = apply_changes(None, change_list)

    lease = svc.new_lease()
    try:
        if isinstance(source, str) and os.path.isdir(source):
            layer_digest, layer_size = _layer_from_dir(svc, source, lease)
        elif isinstance(source, str):
            with open(source, "rb") as f:
                layer_digest, layer_size = _layer_from_stream(svc, f, lease)
        else:
            layer_digest, layer_size = _layer_from_stream(svc, source, lease)
        _check_tar(svc, layer_digest)

        now = rfc3339(time.time())
        comment = message or f"Imported from {source_name}"
        config = ImageConfig(
            created=now,
            architecture=plat.architecture,
            os=plat.os,
            variant=plat.variant,
            config=container_config,
            rootfs=RootFS(diff_ids=[layer_digest]),
            history=[History(created=now, comment=comment)],
            comment=message or None,
        )
        config_bytes = dump_config(config)
        config_digest, _ = svc.write_blob(config_bytes, lease=lease)
        manifest = Manifest(
            schema_version=2,
            media_type=mt.OCI_MANIFEST,
            config=Descriptor(media_type=mt.OCI_CONFIG, digest=config_digest, size=len(config_bytes)),
            layers=[Descriptor(media_type=mt.OCI_LAYER, digest=layer_digest, size=layer_size)],
        )
        manifest_bytes = dump(manifest)
        manifest_digest, _ = svc.write_blob(manifest_bytes, lease=lease)
        target = Descriptor(media_type=mt.OCI_MANIFEST, digest=manifest_digest, size=len(manifest_bytes))
        return svc.register(target, names)
    finally:
        svc.content.delete_lease(lease)


def _layer_from_stream(svc: ImageService, stream: BinaryIO, lease: str) -> tuple[str, int]:
    src = compression.HashingSource(Available(stream))
    kind = compression.detect(src.peek(6))
    reader = Bounded(compression.Decompressed(src, kind), svc.limits.max_bytes, InvalidArchiveError)
    try:
        digest, size = svc.write_blob(reader, lease=lease)  # type: ignore[arg-type]
    except snapshot_errors.LayerError as e:
        raise InvalidArchiveError(f"import: {e}") from None
    return digest, size


def _layer_from_dir(svc: ImageService, path: str, lease: str) -> tuple[str, int]:
    ref = svc.ingest_ref()
    writer = svc.content.writer(ref, lease=lease)
    try:
        result = diff(None, path, _WriterIO(writer), compression="none")  # type: ignore[arg-type]
        info = writer.commit(result.size, result.diff_id)
        return str(info.digest), info.size
    except Exception as e:
        from dockyard.content import errors as content_errors

        if isinstance(e, content_errors.AlreadyExistsError):
            svc.content.add_to_lease(lease, e.digest)
            return e.digest, svc.content.info(e.digest).size
        writer.close()  # an open writer holds the ingest: abort would be refused
        try:
            svc.content.abort(ref)
        except content_errors.ContentError:
            pass
        raise
    finally:
        writer.close()


def _check_tar(svc: ImageService, digest: str) -> None:
    """Read the layer's headers: refuse a corrupt tar or an entry escaping the root."""
    with svc.content.open(digest) as f:
        try:
            with tarfile.open(fileobj=f, mode="r:") as tar:
                for member in tar:
                    for what, name in (("entry", member.name), ("hardlink target", member.linkname)):
                        if what == "hardlink target" and not member.islnk():
                            continue
                        rel = posixpath.normpath(name.lstrip("/"))
                        if rel == ".." or rel.startswith("../"):
                            raise InvalidArchiveError(
                                f"import: tar {what} {name!r} of {member.name!r} refused: "
                                f"path escapes the root filesystem"
                            )
        except tarfile.TarError as e:
            raise InvalidArchiveError(f"import: not a valid tar archive: {e}") from None
        except EOFError as e:
            raise InvalidArchiveError(f"import: truncated tar archive: {e}") from None
