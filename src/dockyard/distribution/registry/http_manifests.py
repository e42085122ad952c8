"""HTTP handlers for manifests, tags, the catalog and referrers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from dockyard.oci import mediatypes as mt

from ..errors import ManifestTooLargeError, PaginationNumberInvalidError
from .context import Context
from .manifests import MAX_MANIFEST_BYTES
from .storage import accept_list


async def get_manifest(ctx: Context, request: web.Request) -> web.StreamResponse:
    accept = accept_list(request.headers.getall("Accept", []))
    m = ctx.registry.get_manifest(ctx.route.name, ctx.route.arg, accept)
    # HEAD: aiohttp sends these headers (Content-Length included) and no body.
    return web.Response(body=m.body, headers={
        "Content-Type": m.media_type, "Docker-Content-Digest": m.digest, "ETag": f'"{m.digest}"'})


async def put_manifest(ctx: Context, request: web.Request) -> web.StreamResponse:
    if request.content_length is not None and request.content_length > MAX_MANIFEST_BYTES:
        raise ManifestTooLargeError(
            f"manifest is {request.content_length} bytes, over the {MAX_MANIFEST_BYTES} byte limit")
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > MAX_MANIFEST_BYTES:
            raise ManifestTooLargeError(
                f"manifest is over the {MAX_MANIFEST_BYTES} byte limit")
    pushed = await ctx.thread(ctx.registry.put_manifest, ctx.route.name, ctx.route.arg,
                              bytes(body), request.headers.get("Content-Type"))
    headers = {"Location": f"/v2/{ctx.route.name}/manifests/{pushed.digest}",
               "Docker-Content-Digest": pushed.digest, "Content-Length": "0"}
    if pushed.subject:
        headers["OCI-Subject"] = pushed.subject
    return web.Response(status=201, headers=headers)


async def delete_manifest(ctx: Context, request: web.Request) -> web.StreamResponse:
    ctx.registry.delete_manifest(ctx.route.name, ctx.route.arg)
    return web.Response(status=202, headers={"Content-Length": "0"})


def _page(request: web.Request) -> tuple[int | None, str | None]:
    raw = request.query.get("n")
    n: int | None = None
    if raw is not None and raw != "":
        if not raw.isdigit():
            raise PaginationNumberInvalidError(
                f"invalid n={raw[:50]!r}: expected a non-negative integer", detail={"n": raw[:50]})
        n = int(raw)
    return n, request.query.get("last") or None


def _paged(path: str, key: str, items: list[str], n: int | None, extra: dict[str, str]) -> web.Response:
    """``items`` holds up to n+1 entries: one more than asked means a next page."""
    headers: dict[str, str] = {}
    if n is not None and len(items) > n:
        items = items[:n]
        if items:
            query = urlencode({"n": n, "last": items[-1]})
            headers["Link"] = f'<{path}?{query}>; rel="next"'
    return web.json_response({**extra, key: items}, headers=headers)


async def list_tags(ctx: Context, request: web.Request) -> web.StreamResponse:
    n, last = _page(request)
    tags = ctx.registry.tags(ctx.route.name, None if n is None else n + 1, last)
    return _paged(f"/v2/{ctx.route.name}/tags/list", "tags", tags, n, {"name": ctx.route.name})


async def catalog(ctx: Context, request: web.Request) -> web.StreamResponse:
    n, last = _page(request)
    repos = ctx.registry.catalog(None if n is None else n + 1, last)
    return _paged("/v2/_catalog", "repositories", repos, n, {})


async def referrers(ctx: Context, request: web.Request) -> web.StreamResponse:
    artifact_type = request.query.get("artifactType") or None
    found = ctx.registry.referrers(ctx.route.name, ctx.route.arg, artifact_type)
    headers = {"Content-Type": mt.OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": found}
    return web.Response(body=json.dumps(body).encode(), headers=headers)
