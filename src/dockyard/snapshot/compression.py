"""Layer compression: detect it, read through it, write through it.

Readers are pull-style (``read(n)``) so tarfile's stream mode can sit on
top. Every reader turns a decompressor's complaint (bad deflate block,
truncated stream) into ``CorruptLayerError``; errors of the underlying
stream (a broken socket) pass through unchanged.

gzip uses isal (``isal.igzip``, 5-7x zlib's speed; same format, multi-member
streams included). zstd goes through ``zstandard``'s decompressobj fed in
small slices, because its ``stream_reader`` ends silently on a truncated
frame and a single ``decompress`` call on a bomb returns all of it at once;
2 KiB of input expands to at most ~64 MiB. bzip2 and xz are read (Docker
accepts them for ``import``) but never written.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, BinaryIO, Literal, Protocol

from dockyard.snapshot.errors import CorruptLayerError, UnsupportedLayerError

if TYPE_CHECKING:
    import zstandard
    from isal import igzip

# The codecs (zstandard imports ``platform``, isal and lzma load shared
# libraries: ~30 ms together) are imported when a stream needs them, not
# by every command that only detects or hashes.

Compression = Literal["none", "gzip", "zstd", "bzip2", "xz"]
WRITABLE = ("none", "gzip", "zstd")

_MAGIC: list[tuple[bytes, Compression]] = [
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
]


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def detect(head: bytes) -> Compression:
    """The compression of a stream starting with ``head`` (6+ bytes)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return "none"


class SourceError(Exception):
    """Wraps an error of the raw stream so decompressor wrappers let it through."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class HashingSource:
    """The raw (compressed) stream: sha256 and byte count of what is read,
    with ``peek`` for magic-byte detection."""

    def __init__(self, raw: BinaryIO | Readable) -> None:
        self._raw = raw
        self._pending = b""
        self.sha256 = hashlib.sha256()
        self.size = 0
        # Off when the digest is known already (an uncompressed layer's is its
        # diff ID; a stored blob's was verified when written): ``digest()``
        # means nothing then.
        self.hashing = True

    def peek(self, n: int) -> bytes:
        while len(self._pending) < n:
            chunk = self._raw_read(n - len(self._pending))
            if not chunk:
                break
            self._pending += chunk
        return self._pending[:n]

    def _raw_read(self, n: int) -> bytes:
        try:
            return self._raw.read(n)
        except Exception as e:
            raise SourceError(e) from e

    def read(self, n: int = -1) -> bytes:
        if self._pending:
            data = self._pending if n < 0 else self._pending[:n]
            self._pending = self._pending[len(data):]
        else:
            data = self._raw_read(n)
        if self.hashing:
            self.sha256.update(data)
        self.size += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


class _ZstdReader:
    _SLICE = 2048

    def __init__(self, src: Readable) -> None:
        import zstandard

        self._src = src
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._in = b""
        self._started = False  # some input of the current frame was fed
        self._eof = False
        self._out = bytearray()  # decompressed, not yet returned

    def read(self, n: int = -1) -> bytes:
        want = n if n >= 0 else 1 << 62
        while len(self._out) < want and not self._eof:
            if not self._in:
                self._in = self._src.read(1 << 16)
                if not self._in:
                    self._eof = True
                    if self._started:
                        raise CorruptLayerError("zstd stream is truncated (ends inside a frame)")
                    break
            piece, self._in = self._in[: self._SLICE], self._in[self._SLICE:]
            self._started = True
            data = self._obj.decompress(piece)
            if self._obj.eof:
                # End of one frame: continue with the next (zstd streams may
                # hold several concatenated frames).
                self._in = self._obj.unused_data + self._in
                self._obj = self._dctx.decompressobj()
                self._started = False
            if data:
                self._out += data
        out = bytes(self._out[:want])
        del self._out[:want]
        return out


class Decompressed:
    """The uncompressed view of a ``HashingSource``."""

    def __init__(self, src: HashingSource, compression: Compression) -> None:
        self.compression = compression
        self._inner: Readable
        self._errors: tuple[type[BaseException], ...] = (EOFError, OSError, ValueError)
        if compression == "none":
            self._inner = src
        elif compression == "gzip":
            from isal import igzip

            self._inner = igzip.GzipFile(fileobj=src, mode="rb")  # type: ignore[no-untyped-call]
        elif compression == "zstd":
            import zstandard

            self._inner = _ZstdReader(src)
            self._errors += (zstandard.ZstdError,)
        elif compression == "bzip2":
            import bz2

            self._inner = bz2.BZ2File(src, "rb")  # type: ignore[call-overload]
        elif compression == "xz":
            import lzma

            self._inner = lzma.LZMAFile(src, "rb")  # type: ignore[arg-type]
            self._errors += (lzma.LZMAError,)
        else:
            raise UnsupportedLayerError(f"unsupported layer compression {compression!r}")

    def read(self, n: int = -1) -> bytes:
        try:
            return self._inner.read(n)
        except SourceError as e:
            raise e.original from None
        except CorruptLayerError:
            raise
        except Exception as e:
            if isinstance(e, self._errors):
                raise CorruptLayerError(
                    f"{self.compression} stream is corrupt or truncated: {e}"
                ) from e
            if type(e).__name__ == "IsalError":  # derives from Exception only
                raise CorruptLayerError(f"gzip stream is corrupt: {e}") from e
            raise


class HashingSink:
    """Counts and hashes what is written to ``out``."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.sha256.update(data)
        self.size += len(data)
        self._out.write(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


class Compressor:
    """A writer compressing into a ``HashingSink``; ``finish`` ends the
    stream without closing the sink. gzip headers carry no name and mtime 0,
    so the same tar always compresses to the same bytes."""

    def __init__(self, sink: HashingSink, compression: str, level: int | None = None) -> None:
        self._sink = sink
        self._gz: igzip.GzipFile | None = None
        self._zstd: zstandard.ZstdCompressionWriter | None = None
        if compression == "gzip":
            from isal import igzip

            self._gz = igzip.GzipFile(  # type: ignore[no-untyped-call]
                filename="", fileobj=sink, mode="wb",
                compresslevel=2 if level is None else level, mtime=0,
            )
        elif compression == "zstd":
            import zstandard

            cctx = zstandard.ZstdCompressor(level=3 if level is None else level)
            self._zstd = cctx.stream_writer(sink, closefd=False)  # type: ignore[arg-type]
        elif compression != "none":
            raise UnsupportedLayerError(
                f"cannot write {compression!r} layers (expected one of: {', '.join(WRITABLE)})"
            )

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._gz is not None:
            return int(self._gz.write(data))  # type: ignore[no-untyped-call]
        if self._zstd is not None:
            return self._zstd.write(data)
        return self._sink.write(data)

    def finish(self) -> None:
        if self._gz is not None:
            # Writes the gzip trailer; the sink (an external fileobj) stays open.
            self._gz.close()
        elif self._zstd is not None:
            import zstandard

            self._zstd.flush(zstandard.FLUSH_FRAME)
            self._zstd.close()  # type: ignore[no-untyped-call]
        self._sink.flush()
