"""COPY/ADD: Docker's directory semantics, globs, --chown/--chmod/--parents/--exclude,
heredocs, ADD's tar extraction and URLs with --checksum."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _buildtools import copy_folder

from dockyard.build.errors import FetchError


def _make_archive(ctx: Path) -> None:
    with tarfile.open(ctx / "archive.tar.gz", "w:gz") as t:
        data = b"inside the archive\n"
        info = tarfile.TarInfo("inner/inner.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))


def _export(build, ctx: Path, tmp: Path, **kw) -> dict[str, tarfile.TarInfo | bytes]:  # type: ignore[no-untyped-def]
    out = tmp / "fs.tar"
    build(ctx, outputs=[{"type": "tar", "dest": str(out)}], **kw)
    files: dict[str, tarfile.TarInfo | bytes] = {}
    with tarfile.open(out) as t:
        for m in t.getmembers():
            name = m.name.removeprefix("./")
            files[name] = m
            if m.isfile():
                f = t.extractfile(m)
                assert f is not None
                files[name + ":data"] = f.read()
    return files


def test_copy_semantics(build, ctx, tmp_path) -> None:  # type: ignore[no-untyped-def]
    copy_folder("copy/ctx", ctx)
    _make_archive(ctx)
    fs = _export(build, ctx, tmp_path)

    def data(p: str) -> bytes:
        v = fs[p + ":data"]
        assert isinstance(v, bytes)
        return v

    def info(p: str) -> tarfile.TarInfo:
        v = fs[p]
        assert isinstance(v, tarfile.TarInfo)
        return v

    # a directory source copies its contents, with or without a trailing /
    assert data("d1/sub/file1") == b"f1\n" and data("d1/.hidden") == b"h\n" and "d1/dir" not in fs
    assert data("d2/file2") == b"f2\n"
    assert data("f1") == b"one\n" and info("f1").isfile()
    assert data("d3/one.txt") == b"one\n"
    assert data("glob/one.txt") == b"one\n" and data("glob/two.txt") == b"two\n" and "glob/x.md" not in fs
    owned = info("owned")
    assert (owned.uid, owned.gid, owned.mode & 0o7777) == (65534, 65534, 0o600)
    assert (info("owned-dir/sub/file1").uid, info("owned-dir/sub/file1").gid) == (123, 456)
    assert (info("d1/file2").uid, info("d1/file2").gid) == (0, 0)  # context files belong to root
    assert data("par/dir/sub/file1") == b"f1\n"
    assert data("ex/one.txt") == b"one\n" and "ex/x.md" not in fs and "ex/dir" not in fs
    assert "ex/Dockerfile" not in fs
    assert data("heredoc") == b"v=1\n" and data("heredoc-raw") == b"v=$V\n"
    assert data("extracted/inner/inner.txt") == b"inside the archive\n"
    assert (info("extracted-owned/inner/inner.txt").uid, info("extracted-owned/inner/inner.txt").gid) == (7, 8)
    assert data("added.txt") == b"one\n"
    assert info("link_followed").isfile() and data("link_followed") == b"one\n"
    assert data("rel/here.txt") == b"one\n"


@pytest.mark.parametrize("text, message", [
    ("FROM busybox\nCOPY one.txt two.txt /notadir\n", "must be a directory and end with a /"),
    ("FROM busybox\nCOPY *.nomatch /x/\n", "matches nothing"),
    ("FROM busybox\nCOPY missing.txt /x\n", "not found in the build context"),
    ("FROM busybox\nCOPY --chmod=u+x one.txt /x\n", "invalid --chmod"),
    ("FROM busybox\nCOPY --chown=nosuchuser one.txt /x\n", "unable to find user nosuchuser"),
    ("FROM busybox\nCOPY http://example.invalid/x /x\n", "source can't be a URL for COPY"),
])
def test_copy_errors(build, ctx, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    copy_folder("copy/ctx", ctx)
    with pytest.raises(Exception, match=message):
        build(ctx, dockerfile_text=text)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "remote.txt").write_bytes(b"remote content\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(tmp_path / "www"), **kw)

        def log_message(self, *a) -> None:  # type: ignore[no-untyped-def]
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_add_url_with_checksum(build, ctx, tmp_path, http_server) -> None:  # type: ignore[no-untyped-def]
    good = "sha256:" + hashlib.sha256(b"remote content\n").hexdigest()
    fs = _export(build, ctx, tmp_path,
                 dockerfile_text=f"FROM busybox\nADD --checksum={good} {http_server}/remote.txt /r/\n")
    assert fs["r/remote.txt:data"] == b"remote content\n"
    bad = "sha256:" + "0" * 64
    with pytest.raises(FetchError, match="checksum mismatch"):
        build(ctx, dockerfile_text=f"FROM busybox\nADD --checksum={bad} {http_server}/remote.txt /r/\n")
    with pytest.raises(FetchError, match="cannot fetch"):
        build(ctx, dockerfile_text=f"FROM busybox\nADD {http_server}/missing.txt /r/\n")
    with pytest.raises(FetchError, match="cannot fetch"):  # no internet here: a clear error
        build(ctx, dockerfile_text="FROM busybox\nADD http://192.0.2.1:9/x.tar /r/\n")

