"""``/volumes``: the volume service over the Engine API (create, list, inspect, rm, prune)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiohttp import web

from .. import params
from ..errors import BadRequest
from ..server import VOLUMES, json_response


class VolumeCreateRequest(msgspec.Struct, kw_only=True):
    Name: str = ""
    Driver: str = "local"
    DriverOpts: dict[str, str] | None = None
    Labels: dict[str, str] | None = None


def _svc(request: web.Request) -> Any:
    svc = request.app[VOLUMES]
    if svc is None:
        raise BadRequest("this daemon runs without the volume service")
    return svc


async def list_(request: web.Request) -> web.StreamResponse:
    vols = await asyncio.to_thread(_svc(request).list, params.filters(request.query))
    return json_response({"Volumes": vols, "Warnings": []})


async def create(request: web.Request) -> web.StreamResponse:
    body = params.body(await request.read(), VolumeCreateRequest)
    doc = await asyncio.to_thread(_svc(request).create, body.Name or None, body.Driver or "local",
                                  body.DriverOpts, body.Labels)
    return json_response(doc, 201)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(await asyncio.to_thread(_svc(request).inspect,
                                                 request.match_info["name"]))


async def remove(request: web.Request) -> web.StreamResponse:
    await asyncio.to_thread(_svc(request).remove, request.match_info["name"],
                            force=params.boolean(request.query, "force"))
    return web.Response(status=204)


async def prune(request: web.Request) -> web.StreamResponse:
    """Anonymous unused volumes, or all unused ones with the ``all`` filter; for
    clients older than API 1.42 always all (Docker 23 changed the default and
    keeps the old one for them)."""
    from ..version import API_VERSION, as_tuple

    filters: dict[str, Any] = dict(params.filters(request.query))
    old = as_tuple(request.match_info.get("version") or API_VERSION) < (1, 42)
    return json_response(await asyncio.to_thread(_svc(request).prune, all=old,
                                                 filters=filters))


ROUTES = [
    ("GET", "/volumes", list_),
    ("POST", "/volumes/create", create),
    ("POST", "/volumes/prune", prune),
    ("GET", "/volumes/{name}", inspect),
    ("DELETE", "/volumes/{name}", remove),
]
