"""``compose run``: one-off containers and their flags (``--no-deps``, ``--service-ports``,
``-p``, ``-e``, ``-w``, ``-u``, ``-v``, ``-l``, ``-T``, ``--entrypoint``, ``--name``,
``--rm``, ``-d``), exit codes, and ``restart`` taking ``depends_on: restart: true``
dependents along — the real CLI against a private daemon, checked on the engine
directly."""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import datetime
from typing import Any

import pytest
from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)

from dockyard.compose.errors import EngineCommandError
from dockyard.compose.run import RunOptions, run_body

ONEOFF = "com.docker.compose.oneoff"


def _t(stamp: str) -> tuple[datetime, str]:
    """An RFC 3339 time as the engine writes it (fraction of any length) → comparable."""
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?Z", stamp)
    assert m, stamp
    return datetime.fromisoformat(m.group(1)), (m.group(2) or "").ljust(9, "0")


def _fetch(url: str) -> bytes:
    deadline = time.monotonic() + 30
    while True:
        try:
            return urllib.request.urlopen(url, timeout=10).read()  # type: ignore[no-any-return]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_run_flags_dependencies_exit_code_and_restart(compose: Any,  # noqa: F811
                                                      tmp_path: Any) -> None:
    c = compose("cmds_run")
    p = c.project
    # a bad flag changes nothing
    r = c("run", "--rm", "-T", "-p", "1.2.3:80", "web", "true", check=False)
    assert r.returncode != 0 and "invalid --publish '1.2.3:80'" in r.stderr, r.stderr
    assert c.containers() == [] and c.networks() == []

    # --no-deps: db is not started; the service's environment is there; --rm: gone after
    r = c("run", "--no-deps", "--rm", "-T", "web", "sh", "-c", "echo $FROM_FILE")
    assert r.stdout == "yes\n", r.stderr
    assert c.containers() == []

    # without it db is brought up and awaited healthy; the flags shape the container
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "f").write_text("from-the-host\n")
    data.chmod(0o755)
    r = c("run", "-T", "--name", f"{p}-once", "-e", "EXTRA=1", "-e", "FROM_FILE=over",
          "-w", "/tmp", "-u", "1000:1000", "--label", "team=qa", "-v", f"{data}:/data:ro",
          "web", "sh", "-c", "echo $EXTRA $FROM_FILE; pwd; id -u; cat /data/f; exit 3",
          check=False)
    assert r.returncode == 3, r.stderr
    assert r.stdout.splitlines() == ["1 over", "/tmp", "1000", "from-the-host"]
    db, once = c.inspect(f"{p}-db-1"), c.inspect(f"{p}-once")
    healthy_at = min(e["End"] for e in db["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    assert _t(once["State"]["StartedAt"]) >= _t(healthy_at)
    labels = once["Config"]["Labels"]
    assert labels["team"] == "qa" and labels[ONEOFF] == "True"
    assert labels["com.docker.compose.service"] == "web"
    assert once["Config"]["Tty"] is False and once["Config"]["User"] == "1000:1000"
    assert not once["HostConfig"].get("PortBindings")  # no --service-ports: none
    [mount] = [m for m in once["Mounts"] if m["Destination"] == "/data"]
    assert mount["Source"] == str(data) and mount["RW"] is False
    assert sorted(x["Names"][0].lstrip("/") for x in c.containers()) == [
        f"{p}-db-1", f"{p}-once"]  # db brought up, web itself not

    # --service-ports publishes the service's ports (and -p more); -d prints the name
    r = c("run", "-d", "--service-ports", "--name", f"{p}-ports", "-p", "127.0.0.1::9090",
          "web")
    assert r.stdout == f"{p}-ports\n"
    ports = c.inspect(f"{p}-ports")
    assert sorted(ports["HostConfig"]["PortBindings"]) == ["8080/tcp", "9090/tcp"]
    assert ports["Config"]["Tty"] is True  # the service's tty: true, no -T
    host_port = ports["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    assert _fetch(f"http://127.0.0.1:{host_port}/") == b"served\n"

    # --entrypoint replaces the image's and the service's command
    r = c("run", "--rm", "-T", "--no-deps", "--entrypoint", "echo entry", "web", "arg")
    assert r.stdout == "entry arg\n", r.stderr

    # -d --rm: the engine removes it when it exits
    c("run", "-d", "--rm", "--no-deps", "-T", "--name", f"{p}-gone", "web", "true")
    deadline = time.monotonic() + 30
    while f"{p}-gone" in c.ids():
        assert time.monotonic() < deadline, "the --rm -d one-off stayed"
        time.sleep(0.2)

    # restart: web depends on db with restart: true (db is up already, web not yet)
    c("up", "-d")

    def started() -> dict[str, tuple[datetime, str]]:
        return {s: _t(c.inspect(f"{p}-{s}-1")["State"]["StartedAt"]) for s in ("db", "web")}

    first = started()
    # web alone: db is left running as it was
    c("restart", "web")
    second = started()
    assert second["db"] == first["db"] and second["web"] > first["web"]
    # db: web is restarted along, after it
    r = c("restart", "db")
    third = started()
    assert third["db"] > second["db"] and third["web"] > second["web"], r.stderr
    assert third["web"] >= third["db"]
    assert r.stderr.index(f"Container {p}-db-1  Restarting") < r.stderr.index(
        f"Container {p}-web-1  Restarting")


def test_run_bad_flags_are_refused_before_anything_runs(load: Any) -> None:
    """``run_body`` is the first thing ``run`` does (the CLI case is in the test above)."""
    project = load("cmds_run", "compose.yaml", project_name="bad").project
    for opts, message in ((RunOptions(publish=["1.2.3:80"]), "invalid --publish '1.2.3:80'"),
                          (RunOptions(labels=["novalue"]), "invalid --label 'novalue'"),
                          (RunOptions(volumes=["/nonexistent-dir-x:/x"]),
                           "/nonexistent-dir-x does not exist"),
                          (RunOptions(volumes=["relative:x"]), "target must be an absolute"),
                          (RunOptions(entrypoint="'unclosed"), "invalid --entrypoint")):
        with pytest.raises(EngineCommandError, match=re.escape(message)):
            run_body(project, "web", ["true"], opts)
    body = run_body(project, "web", None, RunOptions())
    assert body["HostConfig"]["PortBindings"] is None and body["Tty"] is True
