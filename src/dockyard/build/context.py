"""A build context sent as a tar (``docker build - < ctx.tar``, and ``POST /build``'s body).

The tar is unpacked into a private directory before the build, refusing
any entry that would land outside it: ``..`` components, absolute names
are taken as relative (as Docker does), hard links must point inside, and
device nodes are refused. Plain, gzip, bzip2 and xz tars are accepted. A
stream that is not a tar is taken as a Dockerfile with an empty context
(``docker build - < Dockerfile``).
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from typing import BinaryIO

from .errors import ContextError


def _check(member: tarfile.TarInfo) -> None:
    for what, name in (("entry", member.name), ("link target", member.linkname if member.islnk() else "")):
        if not name:
            continue
        rel = posixpath.normpath("/" + name).lstrip("/") if name.startswith("/") else posixpath.normpath(name)
        if rel == ".." or rel.startswith("../"):
            raise ContextError(f"context tar: {what} {name!r} of {member.name!r} points outside the context")
    if member.isdev():
        raise ContextError(f"context tar: device node {member.name!r} is not allowed in a build context")


def unpack_context(stream: BinaryIO, dest: str) -> str | None:
    """Unpack a context tar into ``dest``; returns the Dockerfile text instead when
    the stream is a bare Dockerfile (``dest`` then stays empty)."""
    data = stream.read()
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except tarfile.TarError:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ContextError("the context on stdin is neither a tar archive nor a Dockerfile") from None
    with tar:
        members = tar.getmembers()
        for m in members:
            _check(m)
        os.makedirs(dest, exist_ok=True)
        for m in members:
            m.name = posixpath.normpath(m.name.lstrip("/")) or "."
            if m.name == ".":
                continue
            try:
                tar.extract(m, dest, filter="tar")
            except tarfile.FilterError as e:  # e.g. an entry written through a symlink
                raise ContextError(f"context tar: entry {m.name!r} refused: {e}") from None
    return None
