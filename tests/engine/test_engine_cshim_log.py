"""The C supervisor's json-file writer against the Python one (``engine/logfile.py``).

The shim's ``--log-test`` mode feeds chunks to the very functions the
running shim uses; the same chunks go to ``JsonFileWriter``. The files
(rotated ones included) must be equal byte for byte, except the ``time``
field, which must have the same RFC 3339 nano shape.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.engine import cshim
from dockyard.engine.logfile import JsonFileWriter, files, parse_rfc3339nano

pytestmark = pytest.mark.needs_root

TIME = re.compile(rb'"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"\}\n')


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path, why = cshim.binary(str(tmp_path_factory.mktemp("shim")))
    assert path, why
    yield path


def _both(shim: str, tmp: Path, chunks: list[tuple[str, bytes]], max_size: int = -1,
          max_file: int = 1) -> tuple[list[bytes], list[bytes]]:
    """(Python's files, C's files), oldest first, time fields checked and blanked."""
    py, c = str(tmp / "py.log"), str(tmp / "c.log")
    w = JsonFileWriter(py, max_size, max_file)
    for stream, data in chunks:
        w.write(stream, data)
    w.close()
    feed = b"".join(struct.pack(">BI", 1 if s == "stdout" else 2, len(d)) + d
                    for s, d in chunks)
    r = subprocess.run([shim, "--log-test", c, str(max_size), str(max_file)], input=feed,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr

    def norm(path: str) -> list[bytes]:
        out = []
        for p in files(path):
            data = Path(p).read_bytes()
            lines = data.splitlines(keepends=True)
            assert all(TIME.search(line) for line in lines), data[:400]
            for line in lines:  # the clock itself: the shim computes the date by hand
                ns = parse_rfc3339nano(json.loads(line)["time"])
                assert abs(ns - time.time_ns()) < 600 * 10**9, line
            out.append(TIME.sub(b'"time":"T"}\n', data))
        return out

    return norm(py), norm(c)


def test_lines_partials_escapes_and_unicode(shim: str, tmp_path: Path) -> None:
    chunks = [
        ("stdout", b"hello\n"), ("stderr", b"warn: \"quoted\" \\ back\\slash\ttab\r\n"),
        ("stdout", b"part"), ("stdout", b"ial line\nand the next "),
        ("stderr", b"ctrl \x00\x01\x1b[31m\x7f \x08\x0c\n"),
        ("stdout", "caf\u00e9 \u65e5\u672c \U0001f600\n".encode()),
        # a multi-byte character cut between two reads
        ("stdout", "\u20ac".encode()[:2]), ("stdout", "\u20ac".encode()[2:] + b"\n"),
        ("stdout", b"no newline at the end"),
    ]
    py, c = _both(shim, tmp_path, chunks)
    assert py == c
    assert b"caf\xc3\xa9 " in c[0]  # UTF-8 kept as is, not \\u escapes


def test_invalid_utf8_replaced_as_python_does(shim: str, tmp_path: Path) -> None:
    cases = [b"\x80", b"\xc0\xaf", b"\xe2\x82", b"\xe2\x82a", b"\xed\xa0\x80", b"\xf0\x90\x80",
             b"\xf4\x90\x80\x80", b"\xf5\xff", b"\xe0\x80\x80", b"\xf0\x8f\xbf\xbf",
             b"ok\xc3", b"\xef\xbf\xbd", b"\xf3\xa0\x80\x80x", b"\xc2\x7f"]
    chunks = [("stdout", case + b"\n") for case in cases] + [("stderr", b"tail\xe2\x82")]
    py, c = _both(shim, tmp_path, chunks)
    assert py == c


def test_long_lines_split_at_16k_like_python(shim: str, tmp_path: Path) -> None:
    big = b"x" * 70_000
    chunks = [("stdout", big[:65536]), ("stdout", big[65536:] + b"\n"),
              ("stderr", b"y" * 40_000 + b"\nshort\n" + b"z" * 20_000),
              ("stdout", b"a" * 16384), ("stdout", b"\n")]
    py, c = _both(shim, tmp_path, chunks)
    assert py == c
    assert sum(len(f.splitlines()) for f in c) >= 9


def test_rotation_by_max_size_and_max_file(shim: str, tmp_path: Path) -> None:
    chunks = [("stdout" if i % 3 else "stderr", f"line {i} ".encode() * (i % 7 + 1) + b"\n")
              for i in range(400)]
    py, c = _both(shim, tmp_path, chunks, max_size=2000, max_file=3)
    assert len(c) == 3
    assert py == c
    for f in c:
        assert len(f) < 2000 + 200


def test_random_binary_output(shim: str, tmp_path: Path) -> None:
    rng = random.Random(4)
    alphabet = [bytes([b]) for b in range(256)] + [b"\n"] * 20 + ["\u00e9\u20ac".encode()] * 5
    chunks = []
    for _ in range(120):
        n = rng.choice([1, 2, 3, 17, 200, 5000, 20000])
        chunks.append((rng.choice(["stdout", "stderr"]),
                       b"".join(rng.choice(alphabet) for _ in range(n))))
    py, c = _both(shim, tmp_path, chunks, max_size=64 * 1024, max_file=4)
    assert py == c
    # every line is JSON that decodes to the stream it came from
    for f in c:
        for line in f.splitlines():
            assert json.loads(line)["stream"] in ("stdout", "stderr")


def test_no_compiler_means_python_supervisor(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcc, no cc here
    path, why = cshim.binary(str(tmp_path / "cache"))
    assert path == "" and "no C compiler" in why
    assert not os.path.exists(tmp_path / "cache")


def test_compile_error_means_python_supervisor(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "broken.c"
    bad.write_text("int main(void) { return missing; }\n")
    monkeypatch.setattr(cshim, "SOURCE", str(bad))
    path, why = cshim.binary(str(tmp_path / "cache"))
    assert path == "" and why.startswith("gcc failed") and "missing" in why
    assert os.listdir(tmp_path / "cache") == [".build.lock"]  # no half-built binary left
