"""``dockyard compose up/down/ps/logs/…`` against a private dockyard daemon.

Every command runs as a user runs it (the ``dockyard compose`` CLI with
``DOCKER_HOST``); what it did is checked through the Docker Engine API,
independently of the compose code. One daemon per module (``--bridge
none``: the project networks are user-defined); one project name per test.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import DOCKYARD, Daemon

HERE = Path(__file__).parent
PROJECT = "com.docker.compose.project"


# TRAP (network, reported): every `dockyard daemon` sweeps host links named
# `dy-b…`/`dy-v…` that its own records don't name — so a daemon starting
# anywhere on the host deletes other daemons' user-defined bridges and veths.
# Until the daemon takes a per-root link prefix, ours gets its own prefix
# (a NetworkService constructor parameter) through this shim.
_SHIM = """
import sys
from dockyard.network import service
service.NetworkService.__init__.__kwdefaults__["link_prefix"] = sys.argv.pop(1)
from dockyard.cli.main import main
sys.argv[0] = "dockyard"
sys.exit(main())
"""


def _start(d: Daemon, prefix: str) -> None:
    log = open(os.path.join(d.dir, "daemon.log"), "ab")
    d.proc = subprocess.Popen(
        [sys.executable, "-c", _SHIM, prefix, "daemon", "--root", d.root, "--run-root",
         d.run_root, "-H", d.host, *d.args], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            raise RuntimeError(f"daemon exited {d.proc.returncode}: {d.log()}")
        if os.path.exists(d.sock):
            try:
                with d.api() as api:
                    if api.get("/_ping").text == "OK":
                        return
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"daemon did not answer: {d.log()}")


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    from dockyard.images import ImageService, busybox_image

    d = Daemon(tempfile.mkdtemp(prefix="dy-", dir="/tmp"))
    try:
        images = ImageService.open(d.root)
        try:
            busybox_image(images)
        finally:
            images.close()
        _start(d, "yc" + secrets.token_hex(2))
        yield d
    finally:
        d.cleanup()


class Compose:
    def __init__(self, d: Daemon, folder: str, project: str) -> None:
        self.d = d
        self.dir = HERE / folder
        self.project = project
        self.env: dict[str, str] = {}

    def __call__(self, *args: str, files: tuple[str, ...] = ("compose.yaml",),
                 check: bool = True, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        env.update(self.env, DOCKER_HOST=self.d.host)
        fs = [a for f in files for a in ("-f", str(self.dir / f))]
        r = subprocess.run([DOCKYARD, "compose", *fs, "-p", self.project, *args], env=env,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} → {r.returncode}\n{r.stdout}\n"
                                 f"{r.stderr}\n{self.d.log()[-1500:]}")
        return r

    def containers(self) -> list[dict[str, Any]]:
        """The project's containers, straight from the engine (not through compose)."""
        with self.d.api() as api:
            r = api.get("/containers/json", params={
                "all": "1", "filters": json.dumps({"label": [f"{PROJECT}={self.project}"]})})
            r.raise_for_status()
            return sorted(r.json(), key=lambda c: c["Names"][0])

    def ids(self) -> dict[str, str]:
        return {c["Names"][0].lstrip("/"): c["Id"] for c in self.containers()}

    def inspect(self, ref: str) -> dict[str, Any]:
        with self.d.api() as api:
            r = api.get(f"/containers/{ref}/json")
            r.raise_for_status()
            return r.json()  # type: ignore[no-any-return]

    def networks(self) -> list[dict[str, Any]]:
        with self.d.api() as api:
            return [n for n in api.get("/networks").json() if n["Name"].startswith(self.project)]

    def volumes(self) -> list[dict[str, Any]]:
        with self.d.api() as api:
            return [v for v in api.get("/volumes").json()["Volumes"] or []
                    if v["Name"].startswith(self.project)]


@pytest.fixture
def compose(daemon: Daemon, unique: str) -> Iterator[Any]:
    made: list[Compose] = []

    def make(folder: str) -> Compose:
        c = Compose(daemon, folder, unique.lower().replace("-", "")[:20] + str(len(made)))
        made.append(c)
        return c

    yield make
    for c in made:
        c("down", "-v", "--remove-orphans", files=tuple(
            f for f in ("compose.yaml", "extra.yaml") if (c.dir / f).exists()), check=False)


def test_web_healthy_before_client_shared_volume_and_down(compose: Any) -> None:
    c = compose("up_web")
    p = c.project
    c("up", "-d")
    ids = c.ids()
    assert set(ids) == {f"{p}-web-1", f"{p}-client-1"}
    web, client = c.inspect(f"{p}-web-1"), c.inspect(f"{p}-client-1")
    # the client was started only after web was healthy
    assert web["State"]["Health"]["Status"] == "healthy"
    healthy_at = min(e["End"] for e in web["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    assert client["State"]["StartedAt"] >= healthy_at[:26]
    # compose's labels and names on containers, network and volume
    labels = web["Config"]["Labels"]
    assert labels[PROJECT] == p
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    hashes = dict(line.split() for line in c("config", "--hash", "*").stdout.splitlines())
    assert labels["com.docker.compose.config-hash"] == hashes["web"]
    assert [n["Name"] for n in c.networks()] == [f"{p}_default"]
    assert c.networks()[0]["Labels"]["com.docker.compose.network"] == "default"
    assert web["HostConfig"]["NetworkMode"] == f"{p}_default"
    [vol] = c.volumes()
    assert vol["Name"] == f"{p}_site" and vol["Labels"]["com.docker.compose.volume"] == "site"
    # the volume is shared: client printed what web wrote into it
    logs = c("logs", "client").stdout
    assert f"{p}-client-1  | hello-from-web" in logs
    r = c("exec", "-T", "web", "cat", "/www/client.txt")
    assert r.stdout == "started\n"
    # both containers are endpoints of the project network
    with c.d.api() as api:
        members = api.get(f"/networks/{p}_default").json()["Containers"]
    assert sorted(m["Name"] for m in members.values()) == sorted(ids)
    # and web serves over it, reached by its container name
    r = c("exec", "-T", "client", "wget", "-q", "-O", "-", f"http://{p}-web-1:8080/")
    assert r.stdout == "hello-from-web\n"

    # a second up with nothing changed does nothing
    started = {n: c.inspect(n)["State"]["StartedAt"] for n in ids}
    r = c("up", "-d")
    assert "Running" in r.stderr and "Created" not in r.stderr
    assert c.ids() == ids
    assert {n: c.inspect(n)["State"]["StartedAt"] for n in ids} == started

    # ps: docker compose's table, -q, --format json
    table = c("ps").stdout.splitlines()
    assert table[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS",
                                "PORTS"]
    assert [row.split()[0] for row in table[1:]] == sorted(ids)
    assert "(healthy)" in next(row for row in table if row.startswith(f"{p}-web-1"))
    assert sorted(c("ps", "-q").stdout.split()) == sorted(ids.values())
    items = [json.loads(line) for line in c("ps", "--format", "json").stdout.splitlines()]
    assert {(i["Name"], i["Service"], i["State"]) for i in items} == {
        (f"{p}-web-1", "web", "running"), (f"{p}-client-1", "client", "running")}

    # down -v: containers, network and volume gone
    c("down", "-v")
    assert c.containers() == [] and c.networks() == [] and c.volumes() == []


def test_scale_recreate_orphans_and_lifecycle(compose: Any) -> None:
    c = compose("up_scale")
    p = c.project
    c("up", "-d", "--scale", "worker=3")
    ids = c.ids()
    assert sorted(ids) == [f"{p}-worker-{n}" for n in (1, 2, 3)]
    assert len(set(ids.values())) == 3
    assert sorted(ct["Labels"]["com.docker.compose.container-number"]
                  for ct in c.containers()) == ["1", "2", "3"]
    # unchanged: nothing happens
    c("up", "-d", "--scale", "worker=3")
    assert c.ids() == ids
    # --no-recreate keeps a changed service's containers
    c.env["NAP"] = "3601"
    c("up", "-d", "--scale", "worker=3", "--no-recreate")
    assert c.ids() == ids
    # a changed service is recreated, under the same names
    old_hash = c.containers()[0]["Labels"]["com.docker.compose.config-hash"]
    c("up", "-d", "--scale", "worker=3")
    new = c.ids()
    assert sorted(new) == sorted(ids) and not set(new.values()) & set(ids.values())
    assert c.inspect(f"{p}-worker-1")["Config"]["Cmd"] == ["sleep", "3601"]
    assert c.containers()[0]["Labels"]["com.docker.compose.config-hash"] != old_hash
    # scale down removes the highest numbers; --force-recreate replaces the rest
    c("up", "-d", "--scale", "worker=1")
    assert list(c.ids()) == [f"{p}-worker-1"]
    c("up", "-d", "--force-recreate")
    assert c.ids()[f"{p}-worker-1"] != new[f"{p}-worker-1"]

    # orphans: a service no longer in the files is reported, then removed on request
    c("up", "-d", files=("compose.yaml", "extra.yaml"))
    assert f"{p}-extra-1" in c.ids()
    r = c("up", "-d")
    assert "orphan" in r.stderr and f"{p}-extra-1" in c.ids()
    c("up", "-d", "--remove-orphans")
    assert list(c.ids()) == [f"{p}-worker-1"]

    # stop / start / restart / kill / rm
    c("stop")
    assert c.inspect(f"{p}-worker-1")["State"]["Running"] is False
    assert c("ps", "-q").stdout == ""
    assert c("ps", "-a", "-q").stdout.strip() == c.ids()[f"{p}-worker-1"]
    c("start")
    assert c.inspect(f"{p}-worker-1")["State"]["Running"] is True
    before = c.inspect(f"{p}-worker-1")["State"]["StartedAt"]
    c("restart")
    assert c.inspect(f"{p}-worker-1")["State"]["StartedAt"] != before
    assert "No stopped containers" in c("rm", "-f").stderr
    assert list(c.ids()) == [f"{p}-worker-1"]
    c("kill")
    assert c.inspect(f"{p}-worker-1")["State"]["Running"] is False
    c("rm", "-f")
    assert c.ids() == {}


def test_failed_up_is_listed_and_removable_then_completed_dependency(compose: Any) -> None:
    c = compose("up_deps")
    p = c.project
    c.env["MIGRATE_EXIT"] = "3"
    r = c("up", "-d", check=False)
    assert r.returncode == 1
    assert "didn't complete successfully: exit 3" in r.stderr
    # what was created is there for ps and down; app was never created
    assert list(c.ids()) == [f"{p}-migrate-1"]
    assert f"{p}-migrate-1" in c("ps", "-a").stdout
    c("down")
    assert c.containers() == [] and c.networks() == []

    c.env["MIGRATE_EXIT"] = "0"
    c("up", "-d", "--wait")
    app = c.inspect(f"{p}-app-1")
    migrate = c.inspect(f"{p}-migrate-1")
    assert app["State"]["Running"] and migrate["State"]["ExitCode"] == 0
    assert app["State"]["StartedAt"] >= migrate["State"]["FinishedAt"][:26]
    assert c("logs", "migrate").stdout == f"{p}-migrate-1  | migrated\n"
    # run --rm: a one-off container, its output and exit code, then gone
    r = c("run", "--rm", "app", "sh", "-c", "echo one-off; exit 7", check=False)
    assert r.returncode == 7 and r.stdout == "one-off\n", r.stderr
    assert sorted(c.ids()) == [f"{p}-app-1", f"{p}-migrate-1"]
    # logs -f follows until the container stops
    env = {**os.environ, **c.env, "DOCKER_HOST": c.d.host}
    follow = subprocess.Popen([DOCKYARD, "compose", "-f", str(c.dir / "compose.yaml"), "-p", p,
                               "logs", "-f", "app"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline() == f"{p}-app-1  | app-up\n"
        c("stop", "app")
        assert follow.wait(20) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()


def test_bad_input_changes_nothing(compose: Any) -> None:
    c = compose("up_scale")
    for args, message in ((("up", "-d", "--scale", "nosuch=2"), "no such service: nosuch"),
                          (("up", "-d", "--scale", "worker=two"), "expected SERVICE=NUM"),
                          (("up", "-d", "nosuch"), "no such service: nosuch"),
                          (("up", "--force-recreate", "--no-recreate"), "incompatible")):
        r = c(*args, check=False)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
    assert c.containers() == [] and c.networks() == []


def test_attached_up_prints_prefixed_logs_and_ctrl_c_stops(compose: Any) -> None:
    c = compose("up_deps")
    p = c.project
    env = {**os.environ, "DOCKER_HOST": c.d.host}
    up = subprocess.Popen([DOCKYARD, "compose", "-f", str(c.dir / "compose.yaml"), "-p", p, "up"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert up.stdout is not None
        lines: list[str] = []
        # names are padded to the longest: "p-app-1      | app-up"
        want = {f"{p}-app-1 | app-up", f"{p}-migrate-1 | migrated"}
        while not want <= set(lines) and len(lines) < 20:
            line = up.stdout.readline()
            assert line, (lines, up.stderr.read() if up.stderr else "")
            lines.append(re.sub(r" +\| ", " | ", line.rstrip("\n")))
        assert lines[0] == f"Attaching to {p}-app-1, {p}-migrate-1"
        assert want <= set(lines), lines
        up.send_signal(signal.SIGINT)
        assert up.wait(30) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert c.inspect(f"{p}-app-1")["State"]["Running"] is False

