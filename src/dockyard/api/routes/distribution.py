"""Registries behind the Engine API: pull, push, login, search (and import).

- ``POST /images/create?fromImage=&tag=&platform=``: pull. A ``tag`` that is
  a digest pulls by digest; no tag at all (in ``tag`` or ``fromImage``)
  pulls every tag, as dockerd does. ``fromSrc=-`` imports the body (a
  tarball) as ``repo:tag`` instead; a URL source is a 400.
- ``POST /images/{name}/push?tag=``: push.
- ``POST /auth``: ``docker login`` asks the daemon to check credentials
  against the registry (token or basic flow); the CLI writes config.json.
- ``GET /images/search?term=&limit=&filters=``: the registry's ``/v1/search``.

Credentials come in ``X-Registry-Auth`` (base64url JSON); the daemon never
reads a config.json. Registry settings (insecure registries, mirrors,
``certs.d``) are the daemon's, set under ``REGISTRY`` by ``dockyard
daemon`` from ``--config-file``/flags.

Pull and push are synchronous (``distribution.client``): they run in a
worker thread and their Docker progress messages are forwarded one JSON
object per line, so the docker CLI draws its bars. The response is started
lazily, as dockerd's: an error before anything worth showing (a missing
manifest, bad credentials) is a plain HTTP error (``Error response from
daemon: …``, and the 404 ``docker run`` reacts to); later it is the last
message, ``{"errorDetail":{"message":…},"error":…}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from dockyard.distribution.client import RegistryOptions
from dockyard.distribution.client import login as client_login
from dockyard.distribution.client import pull as client_pull
from dockyard.distribution.client import push as client_push
from dockyard.distribution.client import search as client_search
from dockyard.distribution.client.credentials import ConfigFile, Credentials, decode_registry_auth
from dockyard.distribution.errors import DistributionError, ManifestUnknownError, NameUnknownError

from .. import params
from ..errors import BadRequest
from ..server import IMAGES, REGISTRY, error, json_response

log = logging.getLogger("dockyard.api.distribution")

Message = dict[str, Any]
# Statuses held back until something else follows: with only these sent, a
# failure is still a plain HTTP error (dockerd writes nothing before it has
# the manifest).
_PREAMBLE = ("Pulling from ", "The push refers to repository ")


def _options(request: web.Request) -> RegistryOptions:
    given = request.app.get(REGISTRY)
    if isinstance(given, dict):  # the daemon's lists (cli/daemon.py)
        return RegistryOptions(insecure_registries=tuple(given.get("insecure-registries", ())),
                               mirrors=tuple(given.get("registry-mirrors", ())))
    return given or RegistryOptions()


def _auth(request: web.Request) -> Credentials | None:
    header = request.headers.get("X-Registry-Auth", "")
    try:
        creds = decode_registry_auth(header)
    except DistributionError as e:
        raise BadRequest(str(e)) from None
    return None if creds.empty else creds


def _status(e: BaseException) -> int:
    from dockyard.images.errors import ImageNotFoundError, InvalidReferenceError

    if isinstance(e, DistributionError):
        return int(e.status)
    if isinstance(e, ImageNotFoundError):
        return 404
    if isinstance(e, InvalidReferenceError | ValueError):
        return 400
    return 500


def _message(e: BaseException) -> str:
    if isinstance(e, DistributionError | ValueError) or type(e).__module__.startswith("dockyard."):
        return str(e)
    log.exception("registry operation failed", exc_info=e)
    return f"{type(e).__name__}: {e}"


def _line(msg: Message) -> bytes:
    return json.dumps(msg).encode() + b"\r\n"


async def _stream(request: web.Request, work: Callable[[Callable[[Message], None]], Any]) -> web.StreamResponse:
    """Run ``work(emit)`` in a thread, streaming what it emits (see the module doc)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Message | None] = asyncio.Queue()

    def emit(msg: Message) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    def run() -> Any:
        try:
            return work(emit)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(run))
    held: list[Message] = []
    resp: web.StreamResponse | None = None
    try:
        while True:
            msg = await queue.get()
            if msg is None:
                break
            if resp is None and str(msg.get("status", "")).startswith(_PREAMBLE):
                held.append(msg)
                continue
            if resp is None:
                resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                await resp.prepare(request)
            await resp.write(b"".join(_line(m) for m in [*held, msg]))
            held = []
    except (ConnectionError, asyncio.CancelledError):
        # The client went away. The transfer cannot be stopped midway; it
        # finishes (or fails) on its own, and a later pull finds its blobs.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        raise
    try:
        await task
    except Exception as e:
        if resp is None:
            return error(_status(e), _message(e))
        await resp.write(_line({"errorDetail": {"message": _message(e)}, "error": _message(e)}))
        return resp
    if resp is None:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        if held:
            await resp.write(b"".join(_line(m) for m in held))
    await resp.write_eof()
    return resp


def _pull_ref(from_image: str, tag: str) -> tuple[str, bool]:
    """The reference to pull and whether it means every tag (dockerd's rule)."""
    if not from_image:
        raise BadRequest("fromImage: the image to pull is required")
    last = from_image.rsplit("/", 1)[-1]
    if tag:
        if "@" in from_image or ":" in last:
            raise BadRequest(f"tag: {tag!r} given, but fromImage {from_image!r} already names a tag or digest")
        return (f"{from_image}@{tag}" if ":" in tag else f"{from_image}:{tag}"), False
    return from_image, not ("@" in from_image or ":" in last)


async def create(request: web.Request) -> web.StreamResponse:
    q = request.query
    if q.get("fromSrc"):
        return await _import(request)
    ref, all_tags = _pull_ref(q.get("fromImage", ""), q.get("tag", ""))
    platform = q.get("platform") or None
    auth = _auth(request)
    svc, options = request.app[IMAGES], _options(request)

    def work(emit: Callable[[Message], None]) -> Any:
        try:
            return client_pull(svc, ref, platform=platform, all_tags=all_tags, options=options,
                               auth=auth, progress=emit)
        except (ManifestUnknownError, NameUnknownError) as e:
            # dockerd's wording, which scripts (and the docker CLI's users) match on
            raise type(e)(f"manifest for {ref} not found: manifest unknown: {e.message}") from None

    return await _stream(request, work)


async def _import(request: web.Request) -> web.StreamResponse:
    q = request.query
    if q["fromSrc"] != "-":
        raise BadRequest(f"fromSrc: importing from a URL ({q['fromSrc']!r}) is not supported; "
                         "send the tarball as the body (fromSrc=-)")
    repo, tag = q.get("repo", ""), q.get("tag", "")
    ref = (f"{repo}:{tag}" if tag else repo) or None
    body = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    try:
        async for chunk in request.content.iter_chunked(1 << 16):
            body.write(chunk)
        body.seek(0)
        image = await asyncio.to_thread(
            request.app[IMAGES].import_image, body, ref, changes=q.getall("changes", []),
            message=q.get("message", ""), platform=q.get("platform") or None)
    finally:
        body.close()
    return web.Response(status=200, content_type="application/json", body=_line({"status": image.id}))


async def push(request: web.Request) -> web.StreamResponse:
    name, tag = request.match_info["name"], request.query.get("tag", "")
    ref = f"{name}:{tag}" if tag else name
    auth = _auth(request)
    svc, options = request.app[IMAGES], _options(request)

    def work(emit: Callable[[Message], None]) -> Any:
        return client_push(svc, ref, options=options, auth=auth, progress=emit)

    return await _stream(request, work)


class AuthConfig(msgspec.Struct, kw_only=True):
    username: str = ""
    password: str = ""
    serveraddress: str = ""
    email: str = ""
    identitytoken: str = ""
    registrytoken: str = ""


class _Capture(ConfigFile):
    """A config.json that keeps what ``login`` would store in memory: the
    daemon checks credentials, the CLI is the one that writes its file."""

    def __init__(self) -> None:
        self.path = ""
        self.doc = {}
        self.stored: Credentials | None = None

    def store(self, key: str, creds: Credentials) -> None:
        self.stored = creds


async def auth(request: web.Request) -> web.StreamResponse:
    body = params.body(await request.read(), AuthConfig, allow_empty=False)
    if not body.username or not body.password:
        raise BadRequest("username and password are required to log in")
    capture = _Capture()
    try:
        await asyncio.to_thread(client_login, body.serveraddress or None, body.username, body.password,
                                options=_options(request), config=capture)
    except DistributionError as e:
        status = 401 if e.status in (401, 403) else _status(e)
        return error(status, _message(e))
    token = capture.stored.identity_token if capture.stored else ""
    return json_response({"Status": "Login Succeeded", "IdentityToken": token})


async def search(request: web.Request) -> web.StreamResponse:
    q = request.query
    term = q.get("term", "")
    if not term:
        raise BadRequest("term: a search term is required")
    limit = params.integer(q, "limit", 25) or 25
    filters = params.filters(q)
    for k in filters:
        if k not in ("is-official", "is-automated", "stars"):
            raise BadRequest(f"invalid filter {k!r}: supported are is-official, is-automated, stars")
    try:
        stars = max((int(v) for v in filters.get("stars", [])), default=0)
    except ValueError:
        raise BadRequest(f"invalid filter 'stars': {filters['stars']!r} (expected an integer)") from None
    try:
        found = await asyncio.to_thread(client_search, term, limit=limit, options=_options(request))
    except ValueError as e:
        raise BadRequest(str(e)) from None
    except DistributionError as e:
        return error(_status(e), _message(e))

    def keep(r: Any) -> bool:
        for key, attr in (("is-official", "is_official"), ("is-automated", "is_automated")):
            for v in filters.get(key, []):
                if params.boolean({key: v}, key) != getattr(r, attr):
                    return False
        return bool(r.star_count >= stars)

    return json_response([{"name": r.name, "description": r.description, "star_count": r.star_count,
                           "is_official": r.is_official, "is_automated": r.is_automated}
                          for r in found if keep(r)])


ROUTES = [
    ("POST", "/images/create", create),
    ("POST", "/images/{name:.+}/push", push),
    ("POST", "/auth", auth),
    ("GET", "/images/search", search),
]
