"""The ``json-file`` log driver: Docker's format, with rotation on by default.

Each line a container writes becomes one JSON object per line::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-28T17:00:00.123456789Z"}

A partial line is held until its newline or until 16 KiB accumulate
(Docker's split). Unlike Docker, rotation is on by default: ``max-size``
10m and ``max-file`` 3 (``container-json.log``, ``.1``, ``.2``), so a
chatty container cannot fill the disk. ``--log-opt max-size=… max-file=…``
change it; ``max-size=-1`` turns rotation off.

The writer runs in the supervisor (stdlib only, to keep that process
small); the reader runs in the daemon for ``docker logs``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILE = 3
SPLIT = 16 * 1024
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(value: str) -> int:
    """Docker's ``max-size`` (``10m``, ``512k``, ``1g``, ``-1``) in bytes."""
    v = value.strip().lower()
    if v == "-1":
        return -1
    num = v.rstrip("kmgb")
    unit = v[len(num):].rstrip("b") if v[len(num):] not in ("b",) else "b"
    if not num.isdigit() or unit not in _UNITS:
        raise ValueError(f"invalid max-size {value!r}: expected a size like 10m, 512k or -1")
    return int(num) * _UNITS[unit]


def rfc3339nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339nano(s: str) -> int:
    """Nanoseconds since the epoch of ``YYYY-MM-DDTHH:MM:SS[.fffffffff]Z``."""
    import calendar

    main, _, frac = s.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])


class JsonFileWriter:
    def __init__(self, path: str, max_size: int = DEFAULT_MAX_SIZE,
                 max_file: int = DEFAULT_MAX_FILE) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self._f = open(path, "ab")
        self._size = self._f.tell()
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data
        lines = buf.split(b"\n")
        self._partial[stream] = lines.pop()
        out = [self._record(stream, line + b"\n") for line in lines]
        while len(self._partial[stream]) >= SPLIT:
            chunk, self._partial[stream] = self._partial[stream][:SPLIT], self._partial[stream][SPLIT:]
            out.append(self._record(stream, chunk))
        if out:
            self._emit_all(out)

    def flush_partial(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._emit(self._record(stream, rest))
                self._partial[stream] = b""

    def _record(self, stream: str, data: bytes) -> bytes:
        return json.dumps(
            {"log": data.decode("utf-8", "replace"), "stream": stream,
             "time": rfc3339nano(time.time_ns())},
            separators=(",", ":"), ensure_ascii=False,
        ).encode() + b"\n"

    def _emit_all(self, records: list[bytes]) -> None:
        """Write records, rotating between them (never inside one)."""
        batch: list[bytes] = []
        size = self._size
        for rec in records:
            if 0 < self.max_size <= size + len(rec) and size > 0:
                if batch:
                    self._emit(b"".join(batch))
                    batch = []
                self._rotate()
                size = 0
            batch.append(rec)
            size += len(rec)
        if batch:
            self._emit(b"".join(batch))

    def _emit(self, data: bytes) -> None:
        if 0 < self.max_size <= self._size + len(data) and self._size > 0:
            self._rotate()
        self._f.write(data)
        self._f.flush()
        self._size += len(data)

    def _rotate(self) -> None:
        self._f.close()
        if self.max_file > 1:
            for n in range(self.max_file - 1, 0, -1):
                src = self.path if n == 1 else f"{self.path}.{n - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{n}")
            self._f = open(self.path, "wb")
        else:
            self._f = open(self.path, "wb")
        self._size = 0

    def close(self) -> None:
        self.flush_partial()
        self._f.close()


def files(path: str) -> list[str]:
    """The log's files, oldest first."""
    out = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        out.append(f"{path}.{n}")
        n += 1
    out.reverse()
    if os.path.exists(path):
        out.append(path)
    return out


def read(path: str) -> Iterator[tuple[str, bytes, str]]:
    """(stream, data, time) of every record, oldest first."""
    for p in files(path):
        try:
            f = open(p, "rb")
        except FileNotFoundError:
            continue  # rotated away meanwhile
        with f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a torn last line after a crash
                yield rec["stream"], rec["log"].encode(), rec["time"]


def decode(buf: bytes) -> tuple[list[tuple[str, bytes, str]], int]:
    """Complete records of ``buf`` (a live file's tail) as (stream, data, time);
    and how many bytes they took (a line still being written is left)."""
    end = buf.rfind(b"\n") + 1
    out = []
    for line in buf[:end].splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        out.append((rec["stream"], rec["log"].encode(), rec["time"]))
    return out, end
