"""``write_blob``: put whole content or a stream into any ``ContentStore``.

containerd's ``content.WriteBlob``: open (or resume) the ingest, skip what
a previous attempt already wrote, copy the rest, commit. Content that is
already there is not an error here: its labels are updated, the lease (if
any) takes hold of it, and its ``Info`` is returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import BinaryIO

from . import ContentStore, Info
from .errors import AlreadyExistsError, InvalidArgumentError

CHUNK = 1 << 20


def write_blob(
    store: ContentStore,
    ref: str,
    source: bytes | bytearray | memoryview | BinaryIO,
    expected: str | None = None,
    size: int | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    lease: str | None = None,
) -> Info:
    """Write ``source`` as the blob ``expected`` (verified) and return its Info.

    A ``bytes``-like source also gives the size. A file-like source is
    read in 1 MiB chunks; if the ingest ``ref`` already holds a prefix, the
    source is seeked past it (or, when it cannot seek, that many bytes are
    read and dropped — the digest check at commit still covers them).
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source)
        if size is not None and size != len(data):
            raise InvalidArgumentError(f"size {size} given for {len(data)} bytes of content")
        size = len(data)
    try:
        w = store.writer(ref, expected, size, lease=lease)
    except AlreadyExistsError:
        assert expected is not None
        return _existing(store, expected, labels, lease)
    with w:
        offset = w.offset
        if isinstance(source, bytes | bytearray | memoryview):
            view = memoryview(source)[offset:]
            for i in range(0, len(view), CHUNK):
                w.write(view[i : i + CHUNK])
        else:
            _skip(source, offset)
            while chunk := source.read(CHUNK):
                w.write(chunk)
        try:
            return w.commit(size, expected, labels)
        except AlreadyExistsError:
            return _existing(store, w.digest(), labels, lease)


def _existing(
    store: ContentStore, digest: str, labels: Mapping[str, str] | None, lease: str | None
) -> Info:
    if lease is not None:
        store.add_to_lease(lease, digest)
    if labels:
        return store.update_labels(digest, dict(labels))
    return store.info(digest)


def _skip(source: BinaryIO, n: int) -> None:
    if n == 0:
        return
    try:
        if source.seekable():
            source.seek(n, 1)
            return
    except (AttributeError, OSError):
        pass
    while n > 0:
        chunk = source.read(min(CHUNK, n))
        if not chunk:
            break
        n -= len(chunk)
