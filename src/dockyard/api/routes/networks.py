"""``/networks``: the network service over the Engine API (create, list, inspect, rm,
prune); connect/disconnect go through the engine, which owns the container side."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiohttp import web

from .. import params
from ..errors import BadRequest
from ..server import ENGINE, NETWORKS, json_response


# Clients send null for what they leave unset (docker-py: "IPRange": null).
class IPAMConfigBody(msgspec.Struct, kw_only=True):
    Subnet: str | None = ""
    IPRange: str | None = ""
    Gateway: str | None = ""
    AuxiliaryAddresses: dict[str, str] | None = None


class IPAMBody(msgspec.Struct, kw_only=True):
    Driver: str | None = "default"
    Config: list[IPAMConfigBody] | None = None
    Options: dict[str, str] | None = None


class NetworkCreateRequest(msgspec.Struct, kw_only=True):
    Name: str
    Driver: str | None = "bridge"
    Internal: bool | None = False
    Attachable: bool | None = False
    EnableIPv6: bool | None = None
    IPAM: IPAMBody | None = None
    Options: dict[str, str] | None = None
    Labels: dict[str, str] | None = None


class EndpointConfigBody(msgspec.Struct, kw_only=True):
    Aliases: list[str] | None = None


class ConnectRequest(msgspec.Struct, kw_only=True):
    Container: str
    EndpointConfig: EndpointConfigBody | None = None


class DisconnectRequest(msgspec.Struct, kw_only=True):
    Container: str
    Force: bool = False


def _svc(request: web.Request) -> Any:
    svc = request.app[NETWORKS]
    if svc is None:
        raise BadRequest("this daemon runs without the network service")
    return svc


async def list_(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    nets = await asyncio.to_thread(svc.list_networks, params.filters(request.query))
    return json_response([n.inspect() for n in nets])


async def create(request: web.Request) -> web.StreamResponse:
    from dockyard.network import IPAM, IPAMConfig

    body = params.body(await request.read(), NetworkCreateRequest, allow_empty=False)
    ipam = None
    if body.IPAM is not None:
        ipam = IPAM(Driver=body.IPAM.Driver or "default", Options=body.IPAM.Options or {},
                    Config=[IPAMConfig(Subnet=c.Subnet or "", IPRange=c.IPRange or "",
                                       Gateway=c.Gateway or "",
                                       AuxiliaryAddresses=c.AuxiliaryAddresses or {})
                            for c in body.IPAM.Config or []])
    net = await asyncio.to_thread(
        _svc(request).create_network, body.Name, body.Driver or "bridge", ipam,
        options=body.Options, labels=body.Labels, internal=bool(body.Internal),
        attachable=bool(body.Attachable), enable_ipv6=bool(body.EnableIPv6))
    return json_response({"Id": net.Id, "Warning": ""}, 201)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(await asyncio.to_thread(_svc(request).inspect, request.match_info["id"]))


async def remove(request: web.Request) -> web.StreamResponse:
    await asyncio.to_thread(_svc(request).remove_network, request.match_info["id"])
    return web.Response(status=204)


async def connect(request: web.Request) -> web.StreamResponse:
    body = params.body(await request.read(), ConnectRequest, allow_empty=False)
    aliases = body.EndpointConfig.Aliases if body.EndpointConfig else None
    await request.app[ENGINE].network_connect(body.Container, request.match_info["id"], aliases)
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.StreamResponse:
    body = params.body(await request.read(), DisconnectRequest, allow_empty=False)
    await request.app[ENGINE].network_disconnect(body.Container, request.match_info["id"],
                                                 body.Force)
    return web.Response(status=200)


async def prune(request: web.Request) -> web.StreamResponse:
    gone = await asyncio.to_thread(_svc(request).prune)
    return json_response({"NetworksDeleted": gone or None})


ROUTES = [
    ("GET", "/networks", list_),
    ("POST", "/networks/create", create),
    ("POST", "/networks/prune", prune),
    ("GET", "/networks/{id}", inspect),
    ("DELETE", "/networks/{id}", remove),
    ("POST", "/networks/{id}/connect", connect),
    ("POST", "/networks/{id}/disconnect", disconnect),
]
