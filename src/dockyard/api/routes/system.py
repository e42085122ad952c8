"""``/_ping``, ``/version``, ``/info``."""

from __future__ import annotations

import os
import platform
import time

from aiohttp import web

import dockyard

from .. import version
from ..server import ENGINE, IMAGES, VOLUMES, json_response

_BUILT = time.strftime("%Y-%m-%dT%H:%M:%S.000000000+00:00", time.gmtime())


async def ping(request: web.Request) -> web.StreamResponse:
    headers = {"Api-Version": version.API_VERSION, "Builder-Version": "1",
               "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
               "Ostype": "linux", "Docker-Experimental": "false", "Swarm": "inactive"}
    if request.method == "HEAD":
        return web.Response(status=200, headers={**headers, "Content-Type": "text/plain"})
    return web.Response(status=200, text="OK", headers=headers)


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


async def version_info(request: web.Request) -> web.StreamResponse:
    kernel = platform.release()
    details = {"ApiVersion": version.API_VERSION, "Arch": _arch(), "BuildTime": _BUILT,
               "Experimental": "false", "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
               "KernelVersion": kernel, "MinAPIVersion": version.MIN_API_VERSION, "Os": "linux"}
    return json_response({
        "Platform": {"Name": "dockyard"},
        "Components": [{"Name": "Engine", "Version": dockyard.__version__, "Details": details}],
        "Version": dockyard.__version__, "ApiVersion": version.API_VERSION,
        "MinAPIVersion": version.MIN_API_VERSION, "GitCommit": "",
        "GoVersion": details["GoVersion"], "Os": "linux", "Arch": _arch(),
        "KernelVersion": kernel, "BuildTime": _BUILT,
    })


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


async def info(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    images = request.app[IMAGES]
    cgv = "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"
    try:
        n_images = len(images.images())
    except Exception:
        n_images = 0
    with open("/etc/os-release") as f:
        osr = dict(line.rstrip().split("=", 1) for line in f if "=" in line)
    return json_response({
        "ID": engine.daemon_id, **engine.info_counts(), "Images": n_images,
        "Driver": images.snapshotter.name, "DriverStatus": [["Backing Filesystem", "extfs"]],
        "Plugins": {"Volume": ["local"], "Network": ["host", "none"], "Authorization": None,
                    "Log": ["json-file", "none"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "Debug": False, "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": False,
        "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
        "LoggingDriver": engine.opts.default_log_driver, "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgv, "NEventsListener": 0, "KernelVersion": platform.release(),
        "OperatingSystem": osr.get("PRETTY_NAME", "Linux").strip('"'), "OSVersion": osr.get(
            "VERSION_ID", "").strip('"'), "OSType": "linux", "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(), "GenericResources": None,
        "DockerRootDir": engine.opts.root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": platform.node(), "Labels": [], "ExperimentalBuild": False,
        "ServerVersion": dockyard.__version__,
        "Runtimes": {"dockyard": {"path": "dockyard-runtime"}}, "DefaultRuntime": "dockyard",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
        "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
        "SecurityOptions": ["name=seccomp,profile=builtin"], "Warnings": None,
    })


ROUTES = [
    ("GET", "/_ping", ping),
    ("HEAD", "/_ping", ping),
    ("GET", "/version", version_info),
    ("GET", "/info", info),
]


async def events(request: web.Request) -> web.StreamResponse:
    """``GET /events``: replay ``since`` from the buffer, then stream until ``until``."""
    import asyncio
    import json

    from dockyard.engine.events import check_filters, matches

    from .. import params
    from .containers import _time

    engine = request.app[ENGINE]
    filters = params.filters(request.query)
    check_filters(filters)
    since, until = _time(request, "since"), _time(request, "until")
    q = engine.events.subscribe()  # before the replay: nothing falls in between
    try:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        writer = request.writer
        send = getattr(writer, "send_headers", None)
        if send is not None:
            send()
        seen = 0
        if since:
            for ev in list(engine.events.recent):
                t = ev["timeNano"] / 1e9
                if t >= since and (not until or t <= until) and matches(ev, filters):
                    await resp.write(json.dumps(ev).encode() + b"\n")
                    seen = max(seen, ev["timeNano"])
        while True:
            timeout = None
            if until:
                timeout = until - time.time()
                if timeout <= 0:
                    break
            try:
                ev = await asyncio.wait_for(q.get(), timeout)
            except TimeoutError:
                break
            if ev["timeNano"] <= seen or not matches(ev, filters):
                continue
            if until and ev["timeNano"] / 1e9 > until:
                break
            await resp.write(json.dumps(ev).encode() + b"\n")
        await resp.write_eof()
        return resp
    except ConnectionError:
        return web.Response(status=200)
    finally:
        engine.events.unsubscribe(q)


async def df(request: web.Request) -> web.StreamResponse:
    import asyncio

    images = await asyncio.to_thread(request.app[IMAGES].df)
    containers = await asyncio.to_thread(request.app[ENGINE].disk_usage)
    # Volumes with UsageData (Size, RefCount), as `docker system df -v` prints them.
    vols = request.app[VOLUMES]
    volumes = await asyncio.to_thread(vols.df) if vols is not None else []
    return json_response({**images, "Containers": containers, "Volumes": volumes,
                          "BuildCache": []})


ROUTES.append(("GET", "/events", events))
ROUTES.append(("GET", "/system/df", df))
