"""``build`` (and ``up --build``): build ``build:`` services through the engine's
``POST /build``, as docker compose does with the classic builder.

The context directory is sent as a tar with ``.dockerignore`` applied
(``dockyard.build.dockerignore``: Docker's rules, ``<Dockerfile>.dockerignore``
first); the Dockerfile and ``.dockerignore`` themselves always go, as with
``docker build``. Symlinks are sent as links, never followed, so a link
cannot pull a host file outside the context into the build. The image is
tagged with the service's ``image:``, else ``<project>-<service>`` (docker
compose's default name), plus ``build.tags``, and labelled with ``build.labels``
and docker compose's ``com.docker.compose.project``/``.service``/``.version``/
``.image.builder`` (``labels.image_labels``), by which ``down --rmi`` finds it.

``build.dockerfile_inline`` travels as the ``docker build -f -`` CLI sends a
Dockerfile from stdin: a file ``.dockerfile.<random>`` added to the context
tar and appended to its ``.dockerignore``, so ``COPY . …`` never sees it.

``build.secrets`` (top-level secrets from a ``file``, an ``environment``
variable or ``content``) and ``build.ssh`` (agent sockets) have no field in
the Docker Engine API: Docker's engine only takes them over a BuildKit
session. dockyard's daemon takes them as its documented extension of
``POST /build`` (``api/routes/build.py``): the query parameters ``secrets``
(``{"<id>": "<base64 value>"}``) and ``ssh`` (``{"<id>": "<agent socket>"}``),
accepted over its unix socket only. Before sending them, compose asks the
engine who it is (``GET /version``, ``Platform.Name``) and stops with a
clear error on any other engine, which would ignore them silently.
"""

from __future__ import annotations

import base64
import io
import json
import os
import posixpath
import secrets
import stat
import tarfile
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import IO, Any

from dockyard.build.dockerignore import load as load_dockerignore
from dockyard.build.errors import ContextError
from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.model import Build, Project, Service

Emit = Callable[[str], None]


def image_name(project: Project, service: Service) -> str:
    return service.image or f"{project.name}-{service.name}"


# Docker's daemon (Go's MaxHeaderBytes) and dockyard's (api/server.py MAX_HEADER_BYTES) read
# a request line of up to 1 MiB: the query (build args, labels, secrets…) must fit in it,
# with room left for the method, the path and the headers.
QUERY_MAX = (1 << 20) - 4096


def context_tar(context: str, dockerfile: str, inline: str | None = None) -> IO[bytes]:
    """The context as a tar in a temporary file (rewound); ``dockerfile`` is relative.
    ``inline``: the Dockerfile's text, sent under the name ``dockerfile`` (see above)."""
    if not os.path.isdir(context):
        raise EngineCommandError(f"build context {context!r} is not a directory")
    try:
        matcher = load_dockerignore(context, os.path.join(context, dockerfile))
    except ContextError as e:
        raise EngineCommandError(str(e)) from None
    always = {posixpath.normpath(dockerfile), ".dockerignore"}
    out = tempfile.TemporaryFile()
    with tarfile.open(fileobj=out, mode="w") as tar:
        if inline is not None:
            ignore = b""
            path = os.path.join(context, ".dockerignore")
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    ignore = fh.read()
            _add_bytes(tar, dockerfile, inline.encode())
            _add_bytes(tar, ".dockerignore", ignore + f"\n{dockerfile}\n".encode())
            always = set()  # both written above, never taken from the directory
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
                if inline is not None and rel in (".dockerignore", dockerfile):
                    continue
                if rel in always or not matcher.matches(rel):
                    tar.add(os.path.join(root, f), arcname=rel, recursive=False)
    out.seek(0)
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def build_secrets(project: Project, service: Service) -> dict[str, bytes]:
    """``build.secrets``: id (the ``target``, else the secret's key) → value."""
    assert service.build is not None
    out: dict[str, bytes] = {}
    for ref in service.build.secrets:
        where = f"service {service.name!r}: build.secrets {ref.source!r}"
        top = project.secrets.get(ref.source)
        if top is None:
            raise EngineCommandError(f"{where}: no such top-level secret")
        if top.external:
            raise EngineCommandError(f"{where}: an external secret cannot be used in a build "
                                     f"(expected file, environment or content)")
        if top.file is not None:
            try:
                with open(top.file, "rb") as f:
                    value = f.read()
            except OSError as e:
                raise EngineCommandError(f"{where}: cannot read {top.file}: {e.strerror}") from None
        elif top.environment is not None:
            if top.environment not in project.environment:
                raise EngineCommandError(f"{where}: environment variable {top.environment} "
                                         f"is not set")
            value = project.environment[top.environment].encode()
        else:
            value = (top.content or "").encode()
        out[ref.target or ref.source] = value
    return out


def build_ssh(service: Service) -> dict[str, str]:
    """``build.ssh`` (``[default, id=/agent.sock]`` or a mapping): id → agent socket; a
    bare id is ``$SSH_AUTH_SOCK``'s agent. Only agent sockets (no key files)."""
    raw = (service.raw.get("build") or {}).get("ssh") or []
    items = raw.items() if isinstance(raw, dict) else (
        str(v).partition("=")[::2] for v in raw)
    out: dict[str, str] = {}
    for sid, path in items:
        where = f"service {service.name!r}: build.ssh {sid!r}"
        path = str(path or "") or os.environ.get("SSH_AUTH_SOCK", "")
        if not sid or not path:
            raise EngineCommandError(f"{where}: expected ID=SOCKET, or ID with SSH_AUTH_SOCK set")
        try:
            is_sock = stat.S_ISSOCK(os.stat(path).st_mode)
        except OSError as e:
            raise EngineCommandError(f"{where}: cannot use {path}: {e.strerror}") from None
        if not is_sock:
            raise EngineCommandError(f"{where}: {path} is not a socket (expected an ssh agent's; "
                                     f"key files are not supported)")
        out[str(sid)] = os.path.abspath(path)
    return out


def _check_extension(client: Client, service: Service, what: str) -> None:
    """Build secrets and ssh go only to an engine known to be dockyard's (see above)."""
    try:
        doc = client.version()
        name = str((doc.get("Platform") or {}).get("Name") or "")
        engine = f"{name or 'Docker Engine'} {doc.get('Version', '')}".strip()
    except APIError as e:  # e.g. an older Docker refusing our API version
        name, engine = "", f"GET /version: {e.message}"
    if name != "dockyard":
        raise EngineCommandError(
            f"service {service.name!r}: build.{what} cannot be sent to this engine ({engine}): "
            f"the Docker Engine API has no field for them (Docker's engine takes them over a "
            f"BuildKit session, which dockyard compose does not speak); dockyard's daemon "
            f"takes them through its POST /build extension")


def query_size(params: dict[str, Any]) -> int:
    """The length of ``POST /build``'s query as the client sends ``params`` (dicts and lists
    as JSON, booleans as 1/0, None left out; escaped as RFC 3986's unreserved set)."""
    def text(v: Any) -> str:
        if isinstance(v, dict | list):
            return json.dumps(v)
        return ("1" if v else "0") if isinstance(v, bool) else str(v)

    return sum(len(urllib.parse.quote(k, safe="")) + len(urllib.parse.quote(text(v), safe=""))
               + 2 for k, v in params.items() if v is not None)


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
    context = b.context if os.path.isabs(b.context) else os.path.join(project.working_dir,
                                                                      b.context)
    inline = b.dockerfile_inline
    if inline is not None:
        dockerfile = f".dockerfile.{secrets.token_hex(10)}"
    else:
        dockerfile = b.dockerfile or "Dockerfile"
        if os.path.isabs(dockerfile):
            dockerfile = os.path.relpath(dockerfile, context)
    args = {k: v for k, v in b.args.items() if v is not None}
    args.update(build_args or {})
    params: dict[str, Any] = {
        "t": image_name(project, service), "dockerfile": dockerfile, "buildargs": args,
        "labels": L.image_labels(project.name, service.name, b.labels),
        "target": b.target or None, "nocache": no_cache, "pull": pull,
        "cachefrom": b.cache_from or None, "networkmode": b.network or None, "rm": True}
    values = build_secrets(project, service)
    ssh = build_ssh(service)
    for what, given in (("secrets", values), ("ssh", ssh)):
        if given:
            _check_extension(client, service, what)
    if values:
        params["secrets"] = {k: base64.b64encode(v).decode() for k, v in values.items()}
    if ssh:
        params["ssh"] = ssh
    size = query_size(params)
    if size > QUERY_MAX:
        raise EngineCommandError(
            f"service {service.name!r}: the build's options (build args, labels, secrets) take "
            f"{size} bytes of the request line, more than the {QUERY_MAX} an engine reads "
            f"(secrets, base64-encoded, can total some 700 KiB)")
    tar = context_tar(context, dockerfile, inline)
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
