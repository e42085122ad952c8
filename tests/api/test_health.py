"""Health checks from ``--health-*``: status in ps and inspect, and events."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from daemon_helpers import DOCKER, Daemon

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
