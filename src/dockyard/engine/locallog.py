"""The ``local`` log driver: Docker's on-disk format, compressed rotation.

Docker's ``local`` driver writes one protobuf ``LogEntry`` per record
(``source`` = 1, ``time_nano`` = 2, ``line`` = 3, ``partial`` = 4; the line
without its newline, ``partial`` when a line was split or cut at exit),
each framed by its length as a big-endian uint32 before *and* after, so a
reader can walk the file backwards. Defaults as Docker's: ``max-size`` 20m,
``max-file`` 5, ``compress`` true (rotated files become ``container.log.N.gz``).
The file lives at ``<container dir>/local-logs/container.log``.

The encoder is four fields by hand (the supervisor imports nothing beyond
the stdlib); the decoder skips fields it does not know.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import time
from collections.abc import Iterator

from .logfile import JsonFileWriter, rfc3339nano

DEFAULT_MAX_SIZE = 20 * 1024 * 1024
DEFAULT_MAX_FILE = 5
OPTS = ("max-size", "max-file", "compress")
_LEN = struct.Struct(">I")


def path_for(container_dir: str) -> str:
    return os.path.join(container_dir, "local-logs", "container.log")


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # int64 as protobuf does: negative is ten bytes
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(source: str, time_nano: int, line: bytes, partial: bool) -> bytes:
    src = source.encode()
    msg = (b"\x0a" + _varint(len(src)) + src + b"\x10" + _varint(time_nano)
           + b"\x1a" + _varint(len(line)) + line + (b"\x20\x01" if partial else b""))
    n = _LEN.pack(len(msg))
    return n + msg + n


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7


def decode_entry(msg: bytes) -> tuple[str, int, bytes, bool]:
    source, t, line, partial = "", 0, b"", False
    i = 0
    while i < len(msg):
        key, i = _read_varint(msg, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _read_varint(msg, i)
            if field == 2:
                t = v - (1 << 64) if v >= 1 << 63 else v
            elif field == 4:
                partial = bool(v)
        elif wire == 2:
            n, i = _read_varint(msg, i)
            v_b = msg[i:i + n]
            i += n
            if field == 1:
                source = v_b.decode("utf-8", "replace")
            elif field == 3:
                line = v_b
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return source, t, line, partial


def decode(buf: bytes) -> tuple[list[tuple[str, bytes, str]], int]:
    """Complete records of ``buf`` as (stream, data, time); and the bytes used."""
    out: list[tuple[str, bytes, str]] = []
    pos = 0
    while pos + 4 <= len(buf):
        (n,) = _LEN.unpack_from(buf, pos)
        end = pos + 4 + n + 4
        if end > len(buf):
            break
        try:
            source, t, line, partial = decode_entry(buf[pos + 4:pos + 4 + n])
        except ValueError:
            break  # a torn last record after a crash
        out.append((source, line if partial else line + b"\n", rfc3339nano(t)))
        pos = end
    return out, pos


def files(path: str) -> list[str]:
    """Oldest first: ``container.log.N[.gz]`` … ``.1[.gz]``, then the live file."""
    out = []
    n = 1
    while True:
        p = next((c for c in (f"{path}.{n}.gz", f"{path}.{n}") if os.path.exists(c)), None)
        if p is None:
            break
        out.append(p)
        n += 1
    out.reverse()
    if os.path.exists(path):
        out.append(path)
    return out


def read(path: str) -> Iterator[tuple[str, bytes, str]]:
    for p in files(path):
        try:
            f = gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")
            with f:
                data = f.read()
        except (FileNotFoundError, OSError, EOFError):
            continue  # rotated away meanwhile, or a torn .gz
        yield from decode(data)[0]


class LocalFileWriter(JsonFileWriter):
    """The json-file writer's line splitting and rotation, Docker's local records."""

    def __init__(self, path: str, max_size: int = DEFAULT_MAX_SIZE,
                 max_file: int = DEFAULT_MAX_FILE, compress: bool = True) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.compress = compress
        super().__init__(path, max_size, max_file)

    def _record(self, stream: str, data: bytes) -> bytes:
        partial = not data.endswith(b"\n")
        return encode(stream, time.time_ns(), data if partial else data[:-1], partial)

    def _rotate(self) -> None:
        self._f.close()
        p = self.path
        if self.max_file > 1:
            for n in range(self.max_file - 1, 1, -1):  # the oldest is overwritten
                for ext in (".gz", ""):
                    if os.path.exists(f"{p}.{n - 1}{ext}"):
                        os.replace(f"{p}.{n - 1}{ext}", f"{p}.{n}{ext}")
            os.replace(p, f"{p}.1")
            if self.compress:
                # Inline in the supervisor: once per max-size written, and
                # gzip level 1 keeps it short.
                with open(f"{p}.1", "rb") as src, gzip.open(f"{p}.1.gz.tmp", "wb", 1) as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(f"{p}.1.gz.tmp", f"{p}.1.gz")
                os.unlink(f"{p}.1")
        self._f = open(p, "wb")
        self._size = 0
