"""``/containers/{id}/exec`` and ``/exec/{id}/…``: create, start (hijacked), resize, inspect."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from .. import params
from ..hijack import done_response, hijack
from ..server import ENGINE, json_response
from ..stream import MULTIPLEXED, RAW, frame
from ..wire import ExecConfig, ExecStartConfig, IdResponse


async def create(request: web.Request) -> web.StreamResponse:
    cfg = params.body(await request.read(), ExecConfig, allow_empty=False)
    xid = request.app[ENGINE].exec_create(
        request.match_info["id"], cmd=cfg.Cmd or [], tty=cfg.Tty, stdin=cfg.AttachStdin,
        stdout=cfg.AttachStdout, stderr=cfg.AttachStderr, env=cfg.Env, workdir=cfg.WorkingDir,
        user=cfg.User, privileged=cfg.Privileged, detach_keys=cfg.DetachKeys)
    return json_response(IdResponse(Id=xid), 201)


async def start(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    cfg = params.body(await request.read(), ExecStartConfig)
    size = cfg.ConsoleSize or [0, 0]
    xid = request.match_info["id"]
    if cfg.Detach:
        await engine.exec_start(xid, h=size[0], w=size[1])
        return web.Response(status=200)
    inst = engine.exec_check(xid)  # errors keep their status until the hijack
    tty = inst.Tty
    # Hijack first, then start the process: output that went out together
    # with the 101 headers would be swallowed by clients that read the
    # headers through a buffered reader (docker-py).
    h = await hijack(request, RAW if tty else MULTIPLEXED)
    try:
        inst, stream = await engine.exec_start(xid, h=size[0], w=size[1])
    except Exception as e:
        msg = str(e).encode() + b"\r\n"
        await h.write(msg if tty else frame(1, msg))
        h.close()
        return done_response()
    wanted = {1: inst.AttachStdout, 2: inst.AttachStderr}
    keys = engine.exec_detach_filter(inst)
    detached = asyncio.Event()

    async def pump_in() -> None:
        while (data := await h.read()) is not None:
            data, done = keys.feed(data)
            if data:
                engine.exec_stdin(inst, data)
            if done:  # the session ends here; the process and its stdin go on
                detached.set()
                return
        engine.exec_close_stdin(inst)

    async def pump_out() -> None:
        while (item := await stream.get()) is not None:
            s, data = item
            if wanted.get(s):
                await h.write(data if tty else frame(s, data))

    tin = asyncio.ensure_future(pump_in())
    tout = asyncio.ensure_future(pump_out())
    lost = asyncio.ensure_future(h.lost.wait())
    tdet = asyncio.ensure_future(detached.wait())
    try:
        await asyncio.wait({tout, lost, tdet}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (tin, tout, lost, tdet):
            t.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(tin, tout, lost, tdet, return_exceptions=True)
        h.close()
    return done_response()


async def resize(request: web.Request) -> web.StreamResponse:
    q = request.query
    request.app[ENGINE].exec_resize(request.match_info["id"], params.integer(q, "h", 0),
                                    params.integer(q, "w", 0))
    return web.Response(status=200)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[ENGINE].exec_get(request.match_info["id"]).inspect())


ROUTES = [
    ("POST", "/containers/{id}/exec", create),
    ("POST", "/exec/{id}/start", start),
    ("POST", "/exec/{id}/resize", resize),
    ("GET", "/exec/{id}/json", inspect),
]
