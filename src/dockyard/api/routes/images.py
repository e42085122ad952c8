"""``/images/…``: the image service over the Engine API.

The image service owns the behaviour (list, inspect, tag, rmi, history,
prune, save, load); these handlers only translate. Pull, push, import,
login and search are in ``routes.distribution``.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os

from aiohttp import web

from .. import params
from ..errors import BadRequest
from ..server import IMAGES, json_response


async def list_(request: web.Request) -> web.StreamResponse:
    q = request.query
    out = await asyncio.to_thread(request.app[IMAGES].list, all=params.boolean(q, "all"),
                                  filters=params.filters(q))
    return json_response(out)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(await asyncio.to_thread(request.app[IMAGES].inspect,
                                                 request.match_info["name"]))


async def tag(request: web.Request) -> web.StreamResponse:
    repo = request.query.get("repo", "")
    if not repo:
        raise BadRequest("repo: a repository name is required")
    tag_ = request.query.get("tag", "")
    target = f"{repo}:{tag_}" if tag_ else repo
    await asyncio.to_thread(request.app[IMAGES].tag, request.match_info["name"], target)
    return web.Response(status=201)


async def remove(request: web.Request) -> web.StreamResponse:
    q = request.query
    out = await asyncio.to_thread(request.app[IMAGES].remove, request.match_info["name"],
                                  force=params.boolean(q, "force"),
                                  prune=not params.boolean(q, "noprune"))
    return json_response(out)


async def history(request: web.Request) -> web.StreamResponse:
    return json_response(await asyncio.to_thread(request.app[IMAGES].history,
                                                 request.match_info["name"]))


async def prune(request: web.Request) -> web.StreamResponse:
    filters = params.filters(request.query)
    dangling = filters.pop("dangling", ["true"])
    all_ = dangling[0].lower() in ("false", "0")
    return json_response(await asyncio.to_thread(request.app[IMAGES].prune, all=all_,
                                                 filters=filters))


async def save(request: web.Request) -> web.StreamResponse:
    names = request.query.getall("names", []) or [request.match_info.get("name", "")]
    names = [n for n in names if n]
    if not names:
        raise BadRequest("names: at least one image is required")
    images = request.app[IMAGES]
    for name in names:  # a missing image is a 404 before anything is sent, not a broken tar
        await asyncio.to_thread(images.get, name)
    r, w = os.pipe()
    # The writer's ``sendfile`` moves blobs file → pipe in the kernel; the event
    # loop reads the pipe itself as data arrives (a thread hop per 64 KiB read
    # cost about half the daemon's CPU for a save), through a 1 MiB pipe.
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass  # the default size still works, only slower

    def write() -> None:
        with open(w, "wb") as f:
            try:
                images.save(names, f)
            except BrokenPipeError:
                pass

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 21)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                open(r, "rb", buffering=0))
    task = asyncio.ensure_future(asyncio.to_thread(write))
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
    try:
        await resp.prepare(request)
        while chunk := await reader.read(1 << 20):
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionError:
        pass
    finally:
        transport.close()  # closes r: a writer still going gets EPIPE and stops
        await task
    return resp


async def load(request: web.Request) -> web.StreamResponse:
    import tempfile

    body = tempfile.TemporaryFile()
    try:
        # Spooled to a file so the load can copy blobs by offset from a seekable
        # archive; taken as it arrives (``iter_any``) rather than re-cut into
        # fixed 64 KiB chunks, which joined and copied every byte once more.
        async for chunk in request.content.iter_any():
            body.write(chunk)
        body.seek(0)
        lines = await asyncio.to_thread(request.app[IMAGES].load, body)
    finally:
        body.close()
    out = b"".join(json.dumps({"stream": line + "\n"}).encode() + b"\r\n" for line in lines)
    return web.Response(status=200, body=out, content_type="application/json")


async def commit(request: web.Request) -> web.StreamResponse:
    from ..server import ENGINE

    q = request.query
    container = q.get("container", "")
    if not container:
        raise BadRequest("container: the container to commit is required")
    repo, tag_ = q.get("repo", ""), q.get("tag", "")
    name = (f"{repo}:{tag_}" if tag_ else repo) or None
    image_id = await request.app[ENGINE].commit(
        container, name=name, author=q.get("author", ""), comment=q.get("comment", ""),
        changes=q.getall("changes", []), pause=params.boolean(q, "pause", True))
    return json_response({"Id": image_id}, 201)


ROUTES = [
    ("POST", "/commit", commit),
    ("GET", "/images/json", list_),
    ("POST", "/images/{name:.+}/tag", tag),
    ("GET", "/images/{name:.+}/history", history),
    ("GET", "/images/{name:.+}/get", save),
    ("GET", "/images/get", save),
    ("POST", "/images/load", load),
    ("POST", "/images/prune", prune),
    ("DELETE", "/images/{name:.+}", remove),
    ("GET", "/images/{name:.+}/json", inspect),
]
