"""Compose across implementations: Debian's ``docker-compose`` 1.29 driving
dockyard's daemon, and ``dockyard compose`` driving Docker's engine and ours.

The project (``compose_app/``) has two services on a user-defined network,
a named volume they share, a port published on the host, a healthcheck and
a ``service_healthy`` dependency. What the clients did is checked through
the Engine API (httpx), independently of either compose.

Both daemons are private (own roots and sockets). dockerd runs with
``--iptables=false --bridge=none``: no firewall rules and no ``docker0``; the
project's network is a user-defined bridge it creates itself (and removes
at ``down``), so the project runs there unchanged. dockyard runs with
``--bridge none`` too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import DOCKYARD, Daemon, new_daemon
from dockerd_helpers import Dockerd

from dockyard.linux.ports import free_port

pytestmark = [pytest.mark.needs_root, pytest.mark.slow]

APP = Path(__file__).parent / "compose_app"
L = "com.docker.compose."
DOCKER_COMPOSE = "/usr/bin/docker-compose"  # Debian's docker-compose 1.29 (Python)


@pytest.fixture(scope="module")
def dockyard() -> Iterator[Daemon]:
    d = new_daemon()
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = Dockerd("dyic-")
    try:
        d.start().import_busybox()
        yield d
    finally:
        d.stop()


# --- seen through the Engine API, not through either compose ---------------------------


def _get(api: httpx.Client, path: str, **params: str) -> Any:
    r = api.get(path, params=params)
    r.raise_for_status()
    return r.json()


def _by_project(project: str) -> dict[str, str]:
    return {"filters": json.dumps({"label": [f"{L}project={project}"]})}


def containers(api: httpx.Client, project: str) -> dict[str, dict[str, Any]]:
    """name → inspect document, for every container of the project."""
    found = _get(api, "/containers/json", all="1", **_by_project(project))
    return {c["Names"][0].lstrip("/"): _get(api, f"/containers/{c['Id']}/json") for c in found}


def networks(api: httpx.Client, project: str) -> dict[str, dict[str, str]]:
    return {n["Name"]: n["Labels"] for n in _get(api, "/networks", **_by_project(project))}


def volumes(api: httpx.Client, project: str) -> dict[str, dict[str, str]]:
    return {v["Name"]: v["Labels"]
            for v in _get(api, "/volumes", **_by_project(project))["Volumes"] or []}


def _until(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _http(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        return r.read()  # type: ignore[no-any-return]


def _env(host: str, port: int, cfg: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    return dict(env, DOCKER_HOST=host, WEB_PORT=str(port), DOCKER_CONFIG=str(cfg))


# --- Debian's docker-compose 1.29 drives dockyard -----------------------------------------


def test_docker_compose_1_29_drives_dockyard(dockyard: Daemon, unique: str,
                                             short_tmp: Path) -> None:
    port = free_port("0.0.0.0")
    # 1.29's ps wraps cells to the terminal's width (COLUMNS when not a tty)
    env = dict(_env(dockyard.host, port, short_tmp), COLUMNS="400")
    p = unique

    def dc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([DOCKER_COMPOSE, "-f", str(APP / "compose.yaml"), "-p", p, *args],
                           env=env, capture_output=True, text=True, timeout=120)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr, dockyard.log()[-1500:])
        return r

    try:
        dc("up", "-d")
        with dockyard.api() as api:
            cs = containers(api, p)
            # 1.29's names (underscores) and labels
            assert set(cs) == {f"{p}_web_1", f"{p}_client_1"}
            web, client = cs[f"{p}_web_1"], cs[f"{p}_client_1"]
            for svc, c in (("web", web), ("client", client)):
                labels = c["Config"]["Labels"]
                assert labels[L + "project"] == p and labels[L + "service"] == svc
                assert labels[L + "container-number"] == "1"
                assert labels[L + "oneoff"] == "False"
                assert c["State"]["Running"] is True
                assert c["HostConfig"]["NetworkMode"] == f"{p}_back"
                # on its network under the service name (what 1.29 connected it with)
                assert svc in c["NetworkSettings"]["Networks"][f"{p}_back"]["Aliases"]
            # client was started only after web was healthy (1.29 waited on it)
            assert web["State"]["Health"]["Status"] == "healthy"
            healthy_at = min(e["End"] for e in web["State"]["Health"]["Log"]
                             if e["ExitCode"] == 0)
            assert client["State"]["StartedAt"][:26] >= healthy_at[:26]
            nets, vols = networks(api, p), volumes(api, p)
            assert set(nets) == {f"{p}_back"} and nets[f"{p}_back"][L + "network"] == "back"
            assert set(vols) == {f"{p}_site"} and vols[f"{p}_site"][L + "volume"] == "site"
        # the published port serves from the host
        assert _http(port) == b"hello-from-web\n"

        # a second up finds its containers by their labels and the config hash unchanged
        r = dc("up", "-d")
        assert f"{p}_web_1 is up-to-date" in r.stderr and "Recreating" not in r.stderr, r.stderr
        ps = dc("ps").stdout
        row = next(line for line in ps.splitlines() if line.startswith(f"{p}_web_1 "))
        assert "Up (healthy)" in row and f"0.0.0.0:{port}->8080/tcp" in row, ps
        assert f"{p}_client_1 " in ps

        logs = dc("logs", "--no-color").stdout  # 1.29 prefixes lines with service_N
        for service, line in (("web", "web-up"), ("client", "hello-from-web"),
                              ("client", "client-up")):
            assert any(ln.startswith(f"{service}_1 ") and ln.endswith(f"| {line}")
                       for ln in logs.splitlines()), logs

        # exec -T: the client reaches web by its service name over the project network
        r = dc("exec", "-T", "client", "wget", "-q", "-O", "-", "http://web:8080/")
        assert r.stdout == "hello-from-web\n"

        dc("stop")
        with dockyard.api() as api:  # stopped, by SIGTERM (their shells exit 0 on it)
            assert {n: (c["State"]["Running"], c["State"]["ExitCode"])
                    for n, c in containers(api, p).items()} == {
                f"{p}_web_1": (False, 0), f"{p}_client_1": (False, 0)}
        # start again: 1.29 reconnects a stopped container unless the network lists
        # its short-id alias; either way both rejoin the network and serve
        dc("start")
        _until("web served again", lambda: dc(
            "exec", "-T", "client", "wget", "-q", "-O", "-", "http://web:8080/",
            check=False).stdout == "hello-from-web\n")
        with dockyard.api() as api:
            cs = containers(api, p)
            for c in cs.values():
                assert c["State"]["Running"] is True
                assert c["Id"][:12] in c["NetworkSettings"]["Networks"][f"{p}_back"]["Aliases"]

        dc("down", "-v")
        with dockyard.api() as api:
            assert containers(api, p) == {} and networks(api, p) == {}
            assert volumes(api, p) == {}
    except BaseException:
        dc("down", "-v", check=False)
        raise


# --- the same project through dockyard compose, on Docker's engine and on ours -----------

# Labels compose puts on a container that must be equal for the same input on
# any engine. com.docker.compose.image legitimately differs: it is the image
# ID on that engine (each has its own busybox import).
SAME_LABELS = ("project", "service", "container-number", "oneoff", "config-hash",
               "depends_on", "project.config_files", "project.working_dir", "version")
# `ps --format json` fields that depend on the moment or the engine's IDs
PS_VARYING = ("ID", "CreatedAt", "RunningFor", "Status", "Labels")


def _observe(host: str, api_of: Any, project: str, port: int, cfg: Path) -> dict[str, Any]:
    """up -d, everything compared, down -v; returns what was seen."""
    env = _env(host, port, cfg)

    def dy(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([DOCKYARD, "compose", "-f", str(APP / "compose.yaml"), "-p",
                            project, *args], env=env, capture_output=True, text=True,
                           timeout=120)
        if check:
            assert r.returncode == 0, (host, args, r.stdout, r.stderr)
        return r

    seen: dict[str, Any] = {}
    try:
        dy("up", "-d")
        with api_of() as api:
            cs = containers(api, project)
            seen["labels"] = {n: {k: c["Config"]["Labels"].get(L + k) for k in SAME_LABELS}
                              for n, c in cs.items()}
            image_ids = {c["Config"]["Labels"].get(L + "image") for c in cs.values()}
            busybox = _get(api, "/images/busybox/json")["Id"]
            seen["image label is the engine's image id"] = image_ids == {busybox}
            seen["running"] = {n: c["State"]["Running"] for n, c in cs.items()}
            seen["health"] = {n: (c["State"].get("Health") or {}).get("Status")
                              for n, c in cs.items()}
            seen["networks"] = networks(api, project)
            seen["network mode"] = {n: c["HostConfig"]["NetworkMode"] for n, c in cs.items()}
            seen["volumes"] = volumes(api, project)
            seen["mounts"] = {n: sorted((m["Type"], m["Name"], m["Destination"])
                                        for m in c["Mounts"]) for n, c in cs.items()}
            seen["bindings"] = {n: c["HostConfig"]["PortBindings"] for n, c in cs.items()}
        ps = [json.loads(line) for line in dy("ps", "--format", "json").stdout.splitlines()]
        seen["ps keys"] = sorted(sorted(row) for row in ps)
        seen["ps"] = {row["Name"]: {k: v for k, v in row.items() if k not in PS_VARYING}
                      for row in ps}
        seen["ps labels"] = {row["Name"]: {kv.split("=", 1)[0]
                                           for kv in row["Labels"].split(",")} for row in ps}
        seen["served"] = _http(port)
        seen["logs"] = sorted(dy("logs").stdout.splitlines())
        seen["exec"] = dy("exec", "-T", "client", "wget", "-q", "-O", "-",
                          "http://web:8080/").stdout
        dy("down", "-v")
        with api_of() as api:
            seen["left after down"] = (containers(api, project), networks(api, project),
                                       volumes(api, project))
    except BaseException:
        dy("down", "-v", check=False)
        raise
    return seen


def test_same_project_same_result_on_docker_and_dockyard(dockerd: Dockerd, dockyard: Daemon,
                                                         unique: str, short_tmp: Path) -> None:
    p = unique
    port = free_port("0.0.0.0")  # the same input on both: the same port, one after the other
    # dockyard first: dockerd's docker-proxy binds with SO_REUSEADDR, so the
    # connection we made to the port (TIME_WAIT) cannot keep it from binding after
    ours = _observe(dockyard.host, dockyard.api, p, port, short_tmp)
    theirs = _observe(dockerd.host, dockerd.api, p, port, short_tmp)

    names = {f"{p}-web-1", f"{p}-client-1"}
    assert set(theirs["labels"]) == names
    assert theirs["labels"][f"{p}-web-1"]["config-hash"]  # a real hash to compare
    assert theirs["image label is the engine's image id"] is True
    assert theirs["running"] == dict.fromkeys(names, True)
    assert theirs["health"] == {f"{p}-web-1": "healthy", f"{p}-client-1": None}
    assert set(theirs["networks"]) == {f"{p}_back"} and set(theirs["volumes"]) == {f"{p}_site"}
    assert theirs["served"] == b"hello-from-web\n" and theirs["exec"] == "hello-from-web\n"
    assert theirs["left after down"] == ({}, {}, {})
    for key in theirs:
        assert ours[key] == theirs[key], (key, ours[key], theirs[key])
