"""The aiohttp application of ``dockyard registry`` and its lifecycle.

Every request under ``/v2/`` goes through ``dispatch``: match the route
(``routes``), check the method (405 UNSUPPORTED), authorize (``auth``), and
call the one handler for it (``http_blobs``, ``http_manifests``). Errors of
the spec's tree become its JSON bodies; anything else is logged and
answered 500 UNKNOWN without leaking internals. ``GET /token`` is the
built-in token endpoint of the token flow (and ``POST /token`` its OAuth2
form, with refresh tokens). Every response carries
``Docker-Distribution-API-Version: registry/2.0``.

``RegistryServer`` binds (port 0 picks a free one), serves HTTP on
loopback or HTTPS with the configured certificate and key, and runs the
periodic online GC when ``storage.gc.interval`` asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..errors import DistributionError, UnsupportedError
from . import http_blobs as blobs
from . import http_manifests as manifests
from .auth import Authenticator
from .config import Config
from .context import Context
from .gc import collect
from .routes import match
from .storage import Registry
from .uploads import Uploads

log = logging.getLogger("dockyard.registry")

Handler = Callable[[Context, web.Request], Awaitable[web.StreamResponse]]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("catalog", "GET"): manifests.catalog,
    ("tags", "GET"): manifests.list_tags,
    ("manifest", "GET"): manifests.get_manifest,
    ("manifest", "HEAD"): manifests.get_manifest,
    ("manifest", "PUT"): manifests.put_manifest,
    ("manifest", "DELETE"): manifests.delete_manifest,
    ("uploads", "POST"): blobs.start_upload,
    ("upload", "GET"): blobs.upload_status,
    ("upload", "PATCH"): blobs.patch_upload,
    ("upload", "PUT"): blobs.finish_upload,
    ("upload", "DELETE"): blobs.cancel_upload,
    ("blob", "GET"): blobs.get_blob,
    ("blob", "HEAD"): blobs.get_blob,
    ("blob", "DELETE"): blobs.delete_blob,
    ("referrers", "GET"): manifests.referrers,
}

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def error_response(err: DistributionError) -> web.Response:
    headers = {k: v for k, v in err.headers.items() if k.lower() != "content-length"}
    return web.Response(
        status=err.status, body=json.dumps(err.to_json()).encode(),
        headers={**headers, "Content-Type": "application/json", **API_VERSION},
    )


def _realm_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}/token"


class RegistryApp:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.registry = Registry(config)
        self.uploads = Uploads(self.registry)
        self.auth = Authenticator(config)

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        app.router.add_route("*", "/v2", self.dispatch)
        app.router.add_route("*", "/v2/{tail:.*}", self.dispatch)
        app.router.add_get("/token", self.token)
        app.router.add_post("/token", self.oauth_token)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except DistributionError as e:
            return error_response(e)
        except web.HTTPException as e:
            e.headers.update(API_VERSION)
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return error_response(DistributionError("internal error; see the registry's log"))
        resp.headers.update(API_VERSION)
        return resp

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        route = match(tail)
        if route is None:
            raise web.HTTPNotFound(text="404 page not found\n")
        needed = route.access(request.method)
        if needed is None:
            raise UnsupportedError(
                f"method {request.method} is not supported on {request.path}",
                headers={"Allow": ", ".join(sorted(
                    m for (k, m) in HANDLERS if k == route.kind) or ["GET", "HEAD"])})
        args = (request.headers.get("Authorization"), needed, _realm_url(request))
        if self.auth.mode == "htpasswd":
            # A bcrypt check takes tens of milliseconds: not on the event loop.
            await asyncio.to_thread(self.auth.authorize, *args)
        else:
            self.auth.authorize(*args)
        if route.kind == "base":
            return web.json_response({})
        ctx = Context(self.registry, self.uploads, self.auth, route)
        return await HANDLERS[(route.kind, request.method)](ctx, request)

    async def token(self, request: web.Request) -> web.StreamResponse:
        body = await asyncio.to_thread(
            self.auth.issue_token, request.headers.get("Authorization"),
            request.query.getall("scope", []), request.query.get("service"),
            request.query.get("offline_token") == "true")
        return web.json_response(body)

    async def oauth_token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        body = await asyncio.to_thread(self.auth.oauth_token, fields)
        return web.json_response(body)

    def close(self) -> None:
        self.registry.close()


class RegistryServer:
    """``dockyard registry``: bind, serve, stop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = RegistryApp(config)
        self._runner: web.AppRunner | None = None
        self._gc_task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> str:
        ssl_ctx: ssl.SSLContext | None = None
        if self.config.tls_cert:
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        self._runner = web.AppRunner(self.app.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=ssl_ctx,
                           reuse_address=True)
        await site.start()
        port = self._runner.addresses[0][1]  # the real port when asked for port 0
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if ssl_ctx else 'http'}://{shown}:{port}"
        if self.config.gc_interval > 0:
            self._gc_task = asyncio.create_task(self._gc_loop())
        return self.url

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.gc_interval)
            try:
                done = await asyncio.to_thread(collect, self.app.registry)
            except Exception:
                log.exception("garbage collection failed")
                continue
            if done.blobs_removed:
                log.info("gc: removed %d blobs, %d bytes", len(done.blobs_removed), done.bytes_freed)

    async def stop(self) -> None:
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc_task
        if self._runner is not None:
            await self._runner.cleanup()
        self.app.close()
