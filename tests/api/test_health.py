"""Health checks from ``--health-*``: status in ps and inspect, and events."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from daemon_helpers import DOCKER, DOCKYARD, Daemon, new_daemon

pytestmark = pytest.mark.needs_root


def test_health_status_follows_the_probe(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    env = {**os.environ, "DOCKER_HOST": d.host, "DOCKER_CONFIG": d.dir}
    events = subprocess.Popen([DOCKER, "events", "--filter", f"container={unique}",
                               "--filter", "event=health_status", "--format", "{{.Action}}"],
                              stdout=subprocess.PIPE, env=env)
    try:
        time.sleep(0.3)
        d.docker("run", "-d", "--name", unique, "--health-cmd", "cat /tmp/ok",
                 "--health-interval", "200ms", "--health-retries", "2",
                 "--health-start-period", "5s", "--health-start-interval", "200ms",
                 "busybox", "sh", "-c", "sleep 0.6; echo fine > /tmp/ok; sleep 1.5; rm /tmp/ok; "
                 "sleep 60", check=True)
        st = d.docker("ps", "--filter", f"name={unique}", "--format", "{{.Status}}").stdout
        assert b"(health: starting)" in st
        _wait(lambda: _health(d, unique)["Status"] == "healthy")
        h = _health(d, unique)
        assert h["FailingStreak"] == 0 and h["Log"][-1]["Output"] == "fine\n"
        _wait(lambda: _health(d, unique)["Status"] == "unhealthy")
        assert b"(unhealthy)" in d.docker("ps", "--filter", f"name={unique}").stdout
        assert len(_health(d, unique)["Log"]) <= 5
    finally:
        d.docker("rm", "-f", unique)
        time.sleep(0.2)
        events.terminate()
    actions = events.communicate(timeout=10)[0].decode().split("\n")
    # the start period forgives the early failures: no "unhealthy" before "healthy"
    assert actions[:2] == ["health_status: healthy", "health_status: unhealthy"]


def _health(d: Daemon, name: str) -> dict[str, object]:
    r = d.docker("inspect", "-f", "{{json .State.Health}}", name, check=True)
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _wait(cond: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_ready_service_is_healthy_long_before_its_first_interval(shared_daemon: Daemon,
                                                                  unique: str) -> None:
    """The start ramp (engine/health.py): Docker's first probe would come after 30 s."""
    d = shared_daemon
    try:
        t0 = time.monotonic()
        d.docker("run", "-d", "--name", unique, "--health-cmd", "true", "busybox",
                 "sleep", "60", check=True)
        _wait(lambda: _health(d, unique)["Status"] == "healthy", timeout=20)
        assert time.monotonic() - t0 < 20
        h = _health(d, unique)
        assert h["FailingStreak"] == 0 and [x["ExitCode"] for x in h["Log"]] == [0]
    finally:
        d.docker("rm", "-f", unique)


def test_ramp_failures_are_not_counted_before_the_first_interval(shared_daemon: Daemon,
                                                                 unique: str) -> None:
    d = shared_daemon
    try:
        d.docker("run", "-d", "--name", unique, "--health-cmd", "false", "--health-interval", "3s",
                 "--health-retries", "1", "busybox", "sleep", "60", check=True)
        t0 = time.monotonic()
        time.sleep(1.5)  # ramp probes ran (25 ms, 75, 175, 375, 775 ms...) and failed
        h = _health(d, unique)
        if time.monotonic() - t0 < 2.5:  # still before the first scheduled probe
            assert h["Status"] == "starting" and not h["Log"] and h["FailingStreak"] == 0, h
        _wait(lambda: _health(d, unique)["Status"] == "unhealthy", timeout=20)
        h = _health(d, unique)
        assert h["FailingStreak"] == 1 and len(h["Log"]) == 1, h  # the scheduled probe only
    finally:
        d.docker("rm", "-f", unique)


def test_start_probes_off_keeps_dockers_schedule(tmp_path: Path, unique: str) -> None:
    conf = tmp_path / "daemon.json"
    conf.write_text(json.dumps({"health-start-probes": False}))
    d = new_daemon(["--bridge", "none", "--config-file", str(conf)])
    try:
        d.docker("run", "-d", "--name", unique, "--health-cmd", "true", "--health-interval", "3s",
                 "busybox", "sleep", "60", check=True)
        t0 = time.monotonic()
        time.sleep(1.5)
        h = _health(d, unique)
        if time.monotonic() - t0 < 2.5:
            assert h["Status"] == "starting" and not h["Log"], h
        _wait(lambda: _health(d, unique)["Status"] == "healthy", timeout=20)
    finally:
        d.cleanup()
    conf.write_text(json.dumps({"health-start-probes": "yes"}))
    r = subprocess.run([DOCKYARD, "daemon", "--root", str(tmp_path / "root"), "--config-file",
                        str(conf)], capture_output=True, timeout=30)
    assert r.returncode == 2 and b"health-start-probes: expected true or false" in r.stderr
