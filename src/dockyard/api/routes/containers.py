"""``/containers/…``: create, list, inspect, start, stop, kill, restart, pause,
unpause, wait, rm, rename, top, logs, attach, resize."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from dockyard.engine.errors import EngineError
from dockyard.engine.logfile import parse_rfc3339nano

from .. import params
from ..errors import BadRequest
from ..hijack import done_response, hijack
from ..server import ENGINE, json_response
from ..stream import MULTIPLEXED, RAW, frame
from ..wire import ContainerCreateRequest, CreateResponse, WaitResponse


def _id(request: web.Request) -> str:
    return request.match_info["id"]


async def create(request: web.Request) -> web.StreamResponse:
    body = params.body(await request.read(), ContainerCreateRequest)
    cfg, host = body.split()
    try:
        aliases = body.aliases()
    except ValueError as e:
        raise BadRequest(str(e)) from None
    cid, warnings = await request.app[ENGINE].create(cfg, host, request.query.get("name"),
                                                     aliases=aliases)
    return json_response(CreateResponse(Id=cid, Warnings=warnings), 201)


async def list_(request: web.Request) -> web.StreamResponse:
    q = request.query
    out = request.app[ENGINE].list(all=params.boolean(q, "all"),
                                   limit=params.integer(q, "limit", -1),
                                   filters=params.filters(q))
    return json_response(out)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[ENGINE].inspect(_id(request)))


async def start(request: web.Request) -> web.StreamResponse:
    await request.app[ENGINE].start(_id(request))
    return web.Response(status=204)


def _signal(request: web.Request) -> str | None:
    return request.query.get("signal") or None


async def stop(request: web.Request) -> web.StreamResponse:
    t = params.integer(request.query, "t")
    await request.app[ENGINE].stop(_id(request), t, _signal(request))
    return web.Response(status=204)


async def restart(request: web.Request) -> web.StreamResponse:
    t = params.integer(request.query, "t")
    await request.app[ENGINE].restart(_id(request), t, _signal(request))
    return web.Response(status=204)


async def kill(request: web.Request) -> web.StreamResponse:
    await request.app[ENGINE].kill(_id(request), _signal(request) or "KILL")
    return web.Response(status=204)


async def pause(request: web.Request) -> web.StreamResponse:
    await request.app[ENGINE].pause(_id(request))
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.StreamResponse:
    await request.app[ENGINE].unpause(_id(request))
    return web.Response(status=204)


async def remove(request: web.Request) -> web.StreamResponse:
    q = request.query
    await request.app[ENGINE].remove(_id(request), force=params.boolean(q, "force"),
                                     volumes=params.boolean(q, "v"))
    return web.Response(status=204)


async def rename(request: web.Request) -> web.StreamResponse:
    name = request.query.get("name")
    if not name:
        raise BadRequest("name: a new name is required")
    await request.app[ENGINE].rename(_id(request), name)
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    condition = request.query.get("condition", "not-running")
    # Checked before the headers go out, so errors keep their status.
    waiter = asyncio.ensure_future(engine.wait(_id(request), condition))
    await asyncio.sleep(0)
    if waiter.done():
        code = waiter.result()
        return json_response(WaitResponse(StatusCode=code))
    # Like Docker: headers now (the client knows the wait is registered
    # before it starts the container), the body at the exit.
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    writer = request.writer
    send = getattr(writer, "send_headers", None)
    if send is not None:
        send()
    try:
        try:
            body = WaitResponse(StatusCode=await waiter)
        except Exception as e:
            body = WaitResponse(StatusCode=-1, Error={"Message": str(e)})
        await resp.write(params.to_json(body))
        await resp.write_eof()
    except ConnectionError:
        pass  # the client stopped waiting
    finally:
        if not waiter.done():
            waiter.cancel()
    return resp


async def top(request: web.Request) -> web.StreamResponse:
    return json_response(await request.app[ENGINE].top(_id(request),
                                                         request.query.get("ps_args", "-ef")))


def _time_ns(request: web.Request, name: str) -> int:
    """A timestamp parameter in integer nanoseconds: ``secs[.nanos]`` (Docker's
    clients send this) or RFC 3339. Integers, so a record at exactly
    ``since`` is not lost to float rounding."""
    v = request.query.get(name)
    if not v:
        return 0
    secs, _, frac = v.partition(".")
    if secs.lstrip("-").isdigit() and (not frac or frac.isdigit()):
        return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9])
    try:
        return parse_rfc3339nano(v)
    except ValueError:
        raise BadRequest(f"invalid value for {name}: {v!r} (expected a timestamp)") from None


def _time(request: web.Request, name: str) -> float:
    v = request.query.get(name)
    if not v:
        return 0.0
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return parse_rfc3339nano(v) / 1e9
    except ValueError:
        raise BadRequest(f"invalid value for {name}: {v!r} (expected a timestamp)") from None


async def logs(request: web.Request) -> web.StreamResponse:
    q = request.query
    engine = request.app[ENGINE]
    stdout, stderr = params.boolean(q, "stdout"), params.boolean(q, "stderr")
    if not stdout and not stderr:
        raise BadRequest("Bad parameters: you must choose at least one stream")
    e = engine.get(_id(request))
    tty = e.record.Config.Tty
    gen = engine.logs(_id(request), stdout=stdout, stderr=stderr,
                      follow=params.boolean(q, "follow"), since_ns=_time_ns(request, "since"),
                      until_ns=_time_ns(request, "until"),
                      timestamps=params.boolean(q, "timestamps"),
                      tail=q.get("tail", "all"))
    first = await anext(gen, None)  # errors before the headers go out
    resp = web.StreamResponse(status=200, headers={"Content-Type": RAW if tty else MULTIPLEXED})
    await resp.prepare(request)
    item = first
    while item is not None:
        stream, data = item
        await resp.write(data if tty else frame(stream, data))
        item = await anext(gen, None)
    await resp.write_eof()
    return resp


async def attach(request: web.Request) -> web.StreamResponse:
    q = request.query
    engine = request.app[ENGINE]
    sess = engine.attach(_id(request), stdin=params.boolean(q, "stdin"),
                         stdout=params.boolean(q, "stdout"), stderr=params.boolean(q, "stderr"),
                         detach_keys=q.get("detachKeys") or None)
    h = await hijack(request, RAW if sess.tty else MULTIPLEXED)
    if params.boolean(q, "logs"):
        # `logs=1`: what the container wrote so far, from its log, before the
        # live output (subscribed above, so nothing falls in between).
        try:
            async for stream, data in engine.logs(_id(request),
                                                  stdout=params.boolean(q, "stdout"),
                                                  stderr=params.boolean(q, "stderr")):
                await h.write(data if sess.tty else frame(stream, data))
        except EngineError:
            pass  # a driver that cannot be read (none): only the live output
        except (ConnectionError, OSError):
            sess.detach()
            h.close()
            return done_response()
    if not params.boolean(q, "stream", True):
        sess.detach()
        h.close()
        return done_response()

    async def pump_in() -> None:
        while True:
            data = await h.read()
            if data is None:
                sess.close_stdin()
                return
            if not sess.write(data):
                return

    async def pump_out() -> None:
        while (item := await sess.next()) is not None:
            stream, data = item
            await h.write(data if sess.tty else frame(stream, data))

    tin = asyncio.ensure_future(pump_in())
    tout = asyncio.ensure_future(pump_out())
    lost = asyncio.ensure_future(h.lost.wait())
    try:
        await asyncio.wait({tout, lost}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (tin, tout, lost):
            t.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(tin, tout, lost, return_exceptions=True)
        sess.detach()
        h.close()
    return done_response()


async def resize(request: web.Request) -> web.StreamResponse:
    q = request.query
    request.app[ENGINE].resize(_id(request), params.integer(q, "h", 0), params.integer(q, "w", 0))
    return web.Response(status=200)


async def stats(request: web.Request) -> web.StreamResponse:
    import json

    q = request.query
    stream = params.boolean(q, "stream", True)
    gen = request.app[ENGINE].stats(_id(request), stream=stream,
                                    one_shot=params.boolean(q, "one-shot"))
    first = await anext(gen, None)  # errors before the headers go out
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    try:
        item = first
        while item is not None:
            await resp.write(json.dumps(item).encode() + b"\n")
            item = await anext(gen, None)
        await resp.write_eof()
    except ConnectionError:
        pass
    finally:
        await gen.aclose()
    return resp


async def update(request: web.Request) -> web.StreamResponse:
    import msgspec

    raw = await request.read()
    try:
        changes = msgspec.json.decode(raw or b"{}")
    except msgspec.DecodeError as e:
        raise BadRequest(f"invalid JSON: {e}") from None
    if not isinstance(changes, dict):
        raise BadRequest("invalid request body: expected a JSON object")
    warnings = await request.app[ENGINE].update(_id(request), changes)
    return json_response({"Warnings": warnings})


async def changes(request: web.Request) -> web.StreamResponse:
    return json_response(await request.app[ENGINE].changes(_id(request)))


async def export(request: web.Request) -> web.StreamResponse:
    gen = request.app[ENGINE].export(_id(request))
    first = await anext(gen, None)
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
    await resp.prepare(request)
    try:
        item = first
        while item is not None:
            await resp.write(item)
            item = await anext(gen, None)
        await resp.write_eof()
    except ConnectionError:
        pass
    finally:
        await gen.aclose()
    return resp


def _path(request: web.Request) -> str:
    path = request.query.get("path")
    if not path:
        raise BadRequest("path: a path in the container is required")
    return path


async def archive_head(request: web.Request) -> web.StreamResponse:
    from dockyard.engine.archive import stat_header

    doc = await request.app[ENGINE].archive_stat(_id(request), _path(request))
    return web.Response(status=200, headers={"X-Docker-Container-Path-Stat": stat_header(doc)})


async def archive_get(request: web.Request) -> web.StreamResponse:
    from dockyard.engine.archive import stat_header

    doc, chunks = await request.app[ENGINE].archive_get(_id(request), _path(request))
    resp = web.StreamResponse(status=200, headers={
        "Content-Type": "application/x-tar", "X-Docker-Container-Path-Stat": stat_header(doc)})
    try:
        await resp.prepare(request)
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionError:
        pass
    finally:
        await chunks.aclose()
    return resp


async def archive_put(request: web.Request) -> web.StreamResponse:
    import tempfile

    # Spooled: the layer code reads synchronously, in a thread.
    body = tempfile.SpooledTemporaryFile(max_size=16 << 20)
    try:
        async for chunk in request.content.iter_chunked(1 << 16):
            body.write(chunk)
        body.seek(0)
        await request.app[ENGINE].archive_put(_id(request), _path(request), body)
    finally:
        body.close()
    return web.Response(status=200)


async def prune(request: web.Request) -> web.StreamResponse:
    gone = await request.app[ENGINE].prune(params.filters(request.query))
    return json_response({"ContainersDeleted": gone or None, "SpaceReclaimed": 0})


ROUTES = [
    ("POST", "/containers/prune", prune),
    ("POST", "/containers/create", create),
    ("GET", "/containers/json", list_),
    ("GET", "/containers/{id}/json", inspect),
    ("POST", "/containers/{id}/start", start),
    ("POST", "/containers/{id}/stop", stop),
    ("POST", "/containers/{id}/restart", restart),
    ("POST", "/containers/{id}/kill", kill),
    ("POST", "/containers/{id}/pause", pause),
    ("POST", "/containers/{id}/unpause", unpause),
    ("POST", "/containers/{id}/wait", wait),
    ("POST", "/containers/{id}/rename", rename),
    ("DELETE", "/containers/{id}", remove),
    ("GET", "/containers/{id}/top", top),
    ("GET", "/containers/{id}/stats", stats),
    ("POST", "/containers/{id}/update", update),
    ("GET", "/containers/{id}/changes", changes),
    ("GET", "/containers/{id}/export", export),
    ("HEAD", "/containers/{id}/archive", archive_head),
    ("GET", "/containers/{id}/archive", archive_get),
    ("PUT", "/containers/{id}/archive", archive_put),
    ("GET", "/containers/{id}/logs", logs),
    ("POST", "/containers/{id}/attach", attach),
    ("POST", "/containers/{id}/resize", resize),
]
