"""``cp``: copy files between a service container and the local filesystem.

``SERVICE:PATH`` names replica ``--index`` (default 1) of a service. The
engine's archive endpoints carry the data as tar; extraction on this side
uses :mod:`tarfile`'s ``data`` filter, so an archive cannot write outside
the destination (absolute names, ``..``, links pointing out are refused).
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile

from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose.engine_api import project_containers
from dockyard.compose.errors import EngineCommandError

_GO_MODE_DIR = 1 << 31


def split(arg: str, services: list[str]) -> tuple[str | None, str]:
    """``SERVICE:PATH`` → (service, path); a local path → (None, path)."""
    name, sep, path = arg.partition(":")
    if sep and name in services:
        return name, path
    if sep and "/" not in name and not os.path.exists(arg):
        raise EngineCommandError(f"no such service: {name}")
    return None, arg


def _container(client: Client, project: str, service: str, index: int) -> str:
    for c in project_containers(client, project, services=[service]):
        if c["Labels"].get(L.CONTAINER_NUMBER) == str(index):
            return str(c["Id"])
    raise EngineCommandError(f"service {service!r} has no container #{index}")


def copy(client: Client, project: str, services: list[str], src: str, dest: str,
         index: int = 1) -> None:
    s_svc, s_path = split(src, services)
    d_svc, d_path = split(dest, services)
    if (s_svc is None) == (d_svc is None):
        raise EngineCommandError("cp: exactly one of SRC and DEST must be SERVICE:PATH")
    if not (s_path if s_svc else d_path):
        raise EngineCommandError("cp: the container path must not be empty")
    try:
        if s_svc is not None:
            _from_container(client, _container(client, project, s_svc, index), s_path, d_path)
        else:
            assert d_svc is not None
            _to_container(client, _container(client, project, d_svc, index), s_path, d_path)
    except APIError as e:
        raise EngineCommandError(f"cp: {e.message}") from None
    except tarfile.FilterError as e:
        raise EngineCommandError(f"cp: refused to extract {e.tarinfo.name!r}: it would point "
                                 f"outside the destination ({e})") from None


def _from_container(client: Client, cid: str, path: str, dest: str) -> None:
    data = client.get_archive(cid, path)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        if not members:
            raise EngineCommandError(f"cp: {path}: empty archive")
        top = members[0].name.split("/")[0]
        if os.path.isdir(dest):
            tar.extractall(dest, filter="data")
            return
        parent = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(parent):
            raise EngineCommandError(f"cp: destination directory {parent} does not exist")
        # copied under the destination's name: rename the top entry on the way
        for m in members:
            rest = m.name[len(top):]
            m.name = os.path.basename(dest) + rest
        tar.extractall(parent, members=members, filter="data")


def _to_container(client: Client, cid: str, src: str, dest: str) -> None:
    if not os.path.lexists(src):
        raise EngineCommandError(f"cp: local path {src} does not exist")
    try:
        # a Go os.FileMode: the directory bit is 1 << 31
        is_dir = bool(int(client.archive_stat(cid, dest).get("mode", 0)) & _GO_MODE_DIR)
    except APIError as e:
        if e.status != 404:
            raise
        is_dir = False
    if is_dir:
        target, name = dest, os.path.basename(os.path.normpath(src))
    else:
        target, name = posixpath.dirname(dest) or "/", posixpath.basename(dest)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(src, arcname=name)
    client.put_archive(cid, target, buf.getvalue())
