"""``api.server.LAZY_ROUTES``: modules whose routes are served without importing them at start-up."""

from __future__ import annotations

import importlib
import subprocess
import sys

from dockyard.api.server import LAZY_ROUTES


def test_lazy_tables_match_the_modules_routes() -> None:
    for module, table in LAZY_ROUTES.items():
        mod = importlib.import_module(f"dockyard.api.routes.{module}")
        assert [(m, p, h.__name__) for m, p, h in mod.ROUTES] == table, module


_SCRIPT = """
import asyncio, sys
from aiohttp.test_utils import TestClient, TestServer
from dockyard.api.server import make_app

async def main():
    app = make_app(None, None)
    print("before", "dockyard.build" in sys.modules)
    print("registry client", "dockyard.distribution.client" in sys.modules)
    async with TestClient(TestServer(app)) as c:
        r = await c.post("/v1.50/build/cancel", params={"id": "nope"})
        print("answer", r.status, (await r.json())["message"])
        r = await c.post("/build/cancel")
        print("answer", r.status, (await r.json())["message"])
    print("after", "dockyard.build" in sys.modules)

asyncio.run(main())
"""


def test_builder_is_imported_on_the_first_build_request_only() -> None:
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "before False",
        "registry client False",
        "answer 404 no such build: nope",
        "answer 400 id: the build to cancel is required",
        "after True",
    ]
