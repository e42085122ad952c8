"""HTTP handlers for blobs and uploads: decode the request, call the service, encode."""

from __future__ import annotations

import re

from aiohttp import web

from ..errors import DistributionError, RangeInvalidError
from ..names import check_name
from .context import Context
from .storage import BlobInfo
from .uploads import UploadStatus

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _blob_headers(info: BlobInfo) -> dict[str, str]:
    return {
        "Docker-Content-Digest": info.digest,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }


def _check_range(header: str | None, size: int) -> None:
    """Refuse what FileResponse would not serve as one 206 range, with the spec's error."""
    if header is None:
        return
    m = _RANGE.fullmatch(header.strip())
    bad = m is None or (not m[1] and not m[2])
    if not bad and m is not None:
        if m[1]:
            start = int(m[1])
            bad = start >= size or (bool(m[2]) and int(m[2]) < start)
        else:
            bad = int(m[2]) == 0 or size == 0
    if bad:
        raise RangeInvalidError(
            f"invalid Range {header[:100]!r} for a blob of {size} bytes: expected bytes=<start>-[<end>] "
            f"within the blob",
            headers={"Content-Range": f"bytes */{size}"},
        )


async def get_blob(ctx: Context, request: web.Request) -> web.StreamResponse:
    info = ctx.registry.stat_blob(ctx.route.name, ctx.route.arg)
    if request.method == "GET":
        _check_range(request.headers.get("Range"), info.size)
    # FileResponse: sendfile, HEAD, single-range 206 with Content-Range.
    return web.FileResponse(info.path, headers=_blob_headers(info))


async def delete_blob(ctx: Context, request: web.Request) -> web.StreamResponse:
    ctx.registry.delete_blob(ctx.route.name, ctx.route.arg)
    return web.Response(status=202, headers={"Content-Length": "0"})


def _upload_headers(st: UploadStatus) -> dict[str, str]:
    return {"Location": st.location, "Range": st.range, "Docker-Upload-UUID": st.uuid,
            "Content-Length": "0"}


def _created(name: str, info: BlobInfo) -> web.Response:
    return web.Response(status=201, headers={
        "Location": f"/v2/{name}/blobs/{info.digest}", "Docker-Content-Digest": info.digest,
        "Content-Length": "0"})


async def start_upload(ctx: Context, request: web.Request) -> web.StreamResponse:
    name, q = ctx.route.name, request.query
    mount, source = q.get("mount"), q.get("from")
    if mount and source:
        check_name(source)
        if await ctx.may_pull(request, source):
            info = await ctx.thread(ctx.registry.mount_blob, name, mount, source)
            if info is not None:
                return _created(name, info)
        # Not mountable: start an ordinary upload instead, as the spec allows.
    digest = q.get("digest")
    if digest:
        info = await ctx.uploads.monolithic(name, digest, request.content.iter_any(),
                                            request.content_length)
        return _created(name, info)
    st = await ctx.thread(ctx.uploads.start, name)
    return web.Response(status=202, headers=_upload_headers(st))


async def upload_status(ctx: Context, request: web.Request) -> web.StreamResponse:
    st = ctx.uploads.status(ctx.route.name, ctx.route.arg)
    return web.Response(status=204, headers=_upload_headers(st))


async def patch_upload(ctx: Context, request: web.Request) -> web.StreamResponse:
    try:
        st = await ctx.uploads.append(
            ctx.route.name, ctx.route.arg, request.content.iter_any(),
            request.headers.get("Content-Range"), request.content_length)
    except RangeInvalidError as e:
        # Tell the client where the upload stands, so it can resume from there.
        now = _status_or_none(ctx)
        if now is not None:
            e.headers.update(_upload_headers(now))
        raise
    return web.Response(status=202, headers=_upload_headers(st))


async def finish_upload(ctx: Context, request: web.Request) -> web.StreamResponse:
    try:
        info = await ctx.uploads.finish(
            ctx.route.name, ctx.route.arg, request.query.get("digest"), request.content.iter_any(),
            request.headers.get("Content-Range"), request.content_length)
    except RangeInvalidError as e:
        st = _status_or_none(ctx)
        if st is not None:
            e.headers.update(_upload_headers(st))
        raise
    return _created(ctx.route.name, info)


async def cancel_upload(ctx: Context, request: web.Request) -> web.StreamResponse:
    ctx.uploads.cancel(ctx.route.name, ctx.route.arg)
    return web.Response(status=204, headers={"Content-Length": "0"})


def _status_or_none(ctx: Context) -> UploadStatus | None:
    try:
        return ctx.uploads.status(ctx.route.name, ctx.route.arg)
    except DistributionError:
        return None

