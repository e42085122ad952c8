"""The aiohttp application: routing at ``/path`` and ``/vX.Y/path``, errors, headers.

``ROUTES`` of each routes module are (method, path, handler); every one is
registered twice, plain and under ``/v{version}``. The middleware answers
too-old/too-new versions with Docker's 400, adds the headers Docker sends
(``Api-Version``, ``Server``, ``Ostype``), and turns known errors into
``{"message": …}`` bodies; an unknown exception is logged and becomes a
500 without killing the daemon.

``LAZY_ROUTES``: route modules imported on their first request, not at
start-up. ``routes/build.py`` brings the whole builder (~6 MiB of the idle
daemon's memory, most daemons never build), ``routes/distribution.py`` the
registry client (httpx, TLS: ~3 MiB); their paths are listed here and
``tests/api/test_lazy_routes.py`` checks them against the modules' ROUTES.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

import dockyard

from . import version
from .errors import status_of
from .params import to_json

log = logging.getLogger("dockyard.api")
ENGINE: web.AppKey[Any] = web.AppKey("engine", object)
IMAGES: web.AppKey[Any] = web.AppKey("images", object)
VOLUMES: web.AppKey[Any] = web.AppKey("volumes", object)
NETWORKS: web.AppKey[Any] = web.AppKey("networks", object)
# distribution.client.RegistryOptions (insecure registries, mirrors); typed
# loosely so that making the app does not import the registry client.
REGISTRY: web.AppKey[Any] = web.AppKey("registry", object)
SERVER = f"dockyard/{dockyard.__version__} (linux)"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Docker's daemon (Go net/http, MaxHeaderBytes) reads a request line and headers of up to
# 1 MiB; aiohttp's defaults (8190 bytes a line) would cap what clients put in a query, such
# as POST /build's buildargs and dockyard's secrets= extension. Past it: a 400 naming it.
MAX_HEADER_BYTES = 1 << 20


def error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=to_json({"message": message}),
                        content_type="application/json")


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    v = request.match_info.get("version")
    if v is not None:
        problem = version.check(v)
        if problem is not None:
            return error(400, problem)
    try:
        resp = await handler(request)
    except ConnectionError:
        raise  # the client went away; aiohttp drops the connection quietly
    except web.HTTPException as e:
        if e.status >= 400 and e.status != 405:
            return error(e.status, e.reason if e.status != 404 else "page not found")
        raise
    except Exception as e:
        status = status_of(e)
        if status is None:
            log.exception("%s %s failed", request.method, request.path)
            return error(500, f"{type(e).__name__}: {e}")
        if status == 304:
            return web.Response(status=304)
        return error(status, str(e))
    if not resp.prepared:
        resp.headers["Api-Version"] = version.API_VERSION
        resp.headers["Server"] = SERVER
        resp.headers["Ostype"] = "linux"
        resp.headers["Docker-Experimental"] = "false"
    return resp


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=to_json(obj), content_type="application/json")


# module (under ``routes``) -> its (method, path, handler name), as its ROUTES has them.
LAZY_ROUTES: dict[str, list[tuple[str, str, str]]] = {
    "build": [("POST", "/build", "build"), ("POST", "/build/prune", "prune"),
              ("POST", "/build/cancel", "cancel")],
    "distribution": [("POST", "/images/create", "create"),
                     ("POST", "/images/{name:.+}/push", "push"), ("POST", "/auth", "auth"),
                     ("GET", "/images/search", "search")],
}


def _lazy(module: str, name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        mod = importlib.import_module(f"{__package__}.routes.{module}")
        return await getattr(mod, name)(request)  # type: ignore[no-any-return]

    handler.__name__ = handler.__qualname__ = name
    return handler


def make_app(engine: Any, images: Any, volumes: Any = None,
             networks: Any = None) -> web.Application:
    from .routes import containers, exec, system
    from .routes import images as image_routes
    from .routes import networks as net_routes
    from .routes import volumes as vol_routes

    app = web.Application(middlewares=[middleware], client_max_size=64 * 1024 * 1024,
                          handler_args={"max_line_size": MAX_HEADER_BYTES,
                                        "max_field_size": MAX_HEADER_BYTES})
    app[ENGINE] = engine
    app[IMAGES] = images
    app[VOLUMES] = volumes
    app[NETWORKS] = networks
    routes: list[tuple[str, str, Handler]] = []
    for module in (system, containers, exec, image_routes, vol_routes, net_routes):
        routes += module.ROUTES
    for lazy, table in LAZY_ROUTES.items():
        routes += [(method, path, _lazy(lazy, name)) for method, path, name in table]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, "/v{version:[0-9]+[.][0-9]+}" + path, handler)
    return app


async def serve(app: web.Application, sockets: list[str]) -> web.AppRunner:
    """Listen on each unix socket path (mode 0660, group docker when it exists). The
    request line and header limits are the app's (``MAX_HEADER_BYTES``): aiohttp takes
    ``handler_args`` over the runner's arguments."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    for path in sockets:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        site = web.UnixSite(runner, path)
        await site.start()
        os.chmod(path, 0o660)
    return runner
