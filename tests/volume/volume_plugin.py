"""A real Docker volume plugin for the tests: aiohttp on a unix socket.

It speaks the v1 plugin protocol and really keeps volumes as directories
under ``base``; ``calls`` records every (method, body, Accept header) so
tests can check what the daemon side sent. ``mode`` makes it misbehave:
``"hang"`` never answers the VolumeDriver calls, ``"nonsense"`` answers
garbage, ``"not-volume"`` implements something else.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from typing import Any

from aiohttp import web

MIME = "application/vnd.docker.plugins.v1.2+json"


class VolumePlugin:
    def __init__(self, socket_path: str, base: str, mode: str = "ok") -> None:
        """``socket_path`` is a unix socket path, or ``"tcp://"`` for a TCP port."""
        self.socket_path, self.base, self.mode = socket_path, base, mode
        self.calls: list[tuple[str, Any, str]] = []
        self.mounted: dict[str, set[str]] = {}
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> VolumePlugin:
        self._thread.start()
        assert self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{method}", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site: web.BaseSite
        if self.socket_path.startswith("tcp://"):  # "tcp://": a free port on loopback
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.socket_path = f"tcp://127.0.0.1:{port}"
        else:
            site = web.UnixSite(runner, self.socket_path)
            await site.start()
        self._started.set()
        await self._stop.wait()
        await runner.cleanup()

    def _answer(self, obj: Any, status: int = 200) -> web.Response:
        return web.Response(body=json.dumps(obj).encode(), status=status, content_type=MIME)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.calls.append((method, body, request.headers.get("Accept", "")))
        if method == "Plugin.Activate":
            return self._answer({"Implements": ["NetworkDriver"] if self.mode == "not-volume"
                                 else ["VolumeDriver"]})
        if self.mode == "hang":
            assert self._stop is not None
            await self._stop.wait()
            return self._answer({})
        if self.mode == "nonsense":
            if method == "VolumeDriver.Mount":
                return self._answer({"Mountpoint": 5})
            if method == "VolumeDriver.Capabilities":
                return self._answer({"Capabilities": {"Scope": "global"}})
            if method == "VolumeDriver.Path":
                return self._answer({"Mountpoint": "relative/dir"})
            return web.Response(body=b"<html>surprise</html>", content_type="text/html")
        return self._answer(self._volume_driver(method, body or {}))

    def _volume_driver(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("Name", "")
        path = os.path.join(self.base, name)
        if method == "VolumeDriver.Capabilities":
            return {"Capabilities": {"Scope": "global"}}
        if method == "VolumeDriver.Create":
            if body.get("Opts", {}).get("fail"):
                return {"Err": "refusing: fail option set"}
            os.makedirs(path, exist_ok=False)
            with open(os.path.join(path, ".opts"), "w") as f:
                json.dump(body.get("Opts") or {}, f)
            return {"Err": ""}
        if not os.path.isdir(path) and method != "VolumeDriver.List":
            return {"Err": f"no such volume {name}"}
        if method == "VolumeDriver.Remove":
            shutil.rmtree(path)
            return {"Err": ""}
        if method == "VolumeDriver.Mount":
            self.mounted.setdefault(name, set()).add(body["ID"])
            return {"Mountpoint": path, "Err": ""}
        if method == "VolumeDriver.Unmount":
            self.mounted.get(name, set()).discard(body["ID"])
            return {"Err": ""}
        if method == "VolumeDriver.Path":
            return {"Mountpoint": path, "Err": ""}
        if method == "VolumeDriver.Get":
            return {"Volume": {"Name": name, "Mountpoint": path,
                               "Status": {"mounted_by": sorted(self.mounted.get(name, ()))}},
                    "Err": ""}
        if method == "VolumeDriver.List":
            return {"Volumes": [{"Name": n, "Mountpoint": os.path.join(self.base, n)}
                                for n in sorted(os.listdir(self.base))], "Err": ""}
        return {"Err": f"unknown method {method}"}
