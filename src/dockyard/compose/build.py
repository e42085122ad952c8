"""``build`` (and ``up --build``): build ``build:`` services through the engine's
``POST /build``, as docker compose does with the classic builder.

The context directory is sent as a tar with ``.dockerignore`` applied
(``dockyard.build.dockerignore``: Docker's rules, ``<Dockerfile>.dockerignore``
first); the Dockerfile and ``.dockerignore`` themselves always go, as with
``docker build``. Symlinks are sent as links, never followed, so a link
cannot pull a host file outside the context into the build. The image is
tagged with the service's ``image:``, else ``<project>-<service>`` (docker
compose's default name), plus ``build.tags``.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from dockyard.build.dockerignore import load as load_dockerignore
from dockyard.build.errors import ContextError
from dockyard.client import APIError, Client
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.model import Build, Project, Service

Emit = Callable[[str], None]


def image_name(project: Project, service: Service) -> str:
    return service.image or f"{project.name}-{service.name}"


def context_tar(context: str, dockerfile: str) -> IO[bytes]:
    """The context as a tar in a temporary file (rewound); ``dockerfile`` is relative."""
    if not os.path.isdir(context):
        raise EngineCommandError(f"build context {context!r} is not a directory")
    try:
        matcher = load_dockerignore(context, os.path.join(context, dockerfile))
    except ContextError as e:
        raise EngineCommandError(str(e)) from None
    always = {posixpath.normpath(dockerfile), ".dockerignore"}
    out = tempfile.TemporaryFile()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for root, dirs, files in os.walk(context):
            rel_root = os.path.relpath(root, context)
            keep = []
            for d in sorted(dirs):
                rel = posixpath.normpath(posixpath.join(rel_root, d))
                if os.path.islink(os.path.join(root, d)):
                    files.append(d)  # a link to a directory: sent as a link, not walked
                elif not matcher.matches(rel):
                    tar.add(os.path.join(root, d), arcname=rel, recursive=False)
                    keep.append(d)
                elif matcher.could_reinclude_under(rel):
                    keep.append(d)
            dirs[:] = keep
            for f in sorted(files):
                rel = posixpath.normpath(posixpath.join(rel_root, f))
                if rel in always or not matcher.matches(rel):
                    tar.add(os.path.join(root, f), arcname=rel, recursive=False)
    out.seek(0)
    return out


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(1 << 16):
        yield chunk


def build_service(client: Client, project: Project, service: Service, emit: Emit, *,
                  no_cache: bool = False, pull: bool = False,
                  build_args: dict[str, str] | None = None) -> str:
    """Build one service's image; returns the image ID."""
    b: Build | None = service.build
    if b is None:
        raise EngineCommandError(f"service {service.name!r} has no build section")
    if b.dockerfile_inline:
        raise EngineCommandError(f"service {service.name!r}: build.dockerfile_inline is not "
                                 f"supported (write it to a file, name it in build.dockerfile)")
    context = b.context if os.path.isabs(b.context) else os.path.join(project.working_dir,
                                                                      b.context)
    dockerfile = b.dockerfile or "Dockerfile"
    if os.path.isabs(dockerfile):
        dockerfile = os.path.relpath(dockerfile, context)
    args = {k: v for k, v in b.args.items() if v is not None}
    args.update(build_args or {})
    params: dict[str, Any] = {
        "t": image_name(project, service), "dockerfile": dockerfile, "buildargs": args,
        "labels": b.labels, "target": b.target or None, "nocache": no_cache, "pull": pull,
        "cachefrom": b.cache_from or None, "networkmode": b.network or None, "rm": True}
    tar = context_tar(context, dockerfile)
    image_id = ""
    try:
        for msg in client.build(_chunks(tar), **params):
            if msg.get("error"):
                raise EngineCommandError(f"failed to build {service.name}: "
                                         f"{str(msg['error']).strip()}")
            if msg.get("stream"):
                text = str(msg["stream"]).rstrip("\n")
                if text:
                    emit(text)
            aux = msg.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
    except APIError as e:
        raise EngineCommandError(f"failed to build {service.name}: {e.message}") from None
    finally:
        tar.close()
    for extra in b.tags:
        repo, _, tag = extra.rpartition(":") if ":" in extra.rsplit("/", 1)[-1] \
            else (extra, "", "latest")
        try:
            client.image_tag(image_id, repo, tag)
        except APIError as e:
            raise EngineCommandError(f"tag {extra}: {e.message}") from None
    return image_id


def build(client: Client, project: Project, services: list[str], emit: Emit, say: Any, *,
          no_cache: bool = False, pull: bool = False, missing_only: bool = False,
          build_args: dict[str, str] | None = None) -> list[str]:
    """Build ``services`` (all when empty) that have a ``build:``; ``missing_only``: only
    those whose image the engine lacks (``up`` without ``--build``). Returns the built."""
    built = []
    for name in services or list(project.services):
        svc = project.services[name]
        if svc.build is None:
            continue
        if missing_only and _has_image(client, image_name(project, svc)):
            continue
        say(f"Service {name}", "Building")
        build_service(client, project, svc, emit, no_cache=no_cache, pull=pull,
                      build_args=build_args)
        say(f"Service {name}", "Built")
        built.append(name)
    return built


def _has_image(client: Client, ref: str) -> bool:
    try:
        client.image_inspect(ref)
        return True
    except APIError as e:
        if e.status == 404:
            return False
        raise
