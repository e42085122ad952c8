"""``depends_on`` waits wake on the engine's events, not on a poll.

``engine_api.wait_condition`` against a private dockyard daemon, through
the real client: the fallbacks (re-reading the state after ``EVENT_WAIT``,
polling every ``POLL`` when events cannot be followed) are set to two
minutes, longer than the wait's own deadline, so a wait can only end in
time if an event (``health_status``, ``die``) woke it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_compose_up_cli import daemon  # noqa: F401  (fixture)

from dockyard.client import Client
from dockyard.compose import engine_api
from dockyard.compose.errors import EngineCommandError

pytestmark = pytest.mark.needs_root

NEVER = 120.0  # longer than any wait below: only an event ends one in time
DEADLINE = 60.0
SECOND = 1_000_000_000


@pytest.fixture
def client(daemon: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:  # noqa: F811
    monkeypatch.setattr(engine_api, "EVENT_WAIT", NEVER)
    monkeypatch.setattr(engine_api, "POLL", NEVER)
    with Client(daemon.host) as c:
        yield c


def _run(c: Client, name: str, script: str, health: list[str] | None = None,
         interval: float = 0.5) -> str:
    body: dict[str, Any] = {"Image": "busybox", "Cmd": ["sh", "-c", script],
                            "HostConfig": {"NetworkMode": "none"}}
    if health:
        body["Healthcheck"] = {"Test": health, "Interval": int(interval * SECOND),
                               "Timeout": 10 * SECOND, "Retries": 30}
    cid = str(c.create(body, name=name)["Id"])
    c.start(cid)
    return cid


def _timed(fn: Any, *args: Any) -> float:
    t0 = time.monotonic()
    fn(*args)
    return time.monotonic() - t0


def test_healthy_wakes_the_wait(client: Client, unique: str) -> None:
    name = f"{unique}-h"
    cid = _run(client, name, "sleep 2; touch /tmp/ready; exec sleep 300",
               ["CMD", "test", "-f", "/tmp/ready"])
    try:
        took = _timed(engine_api.wait_condition, client, cid, name, "service_healthy", DEADLINE)
        assert took < DEADLINE
        assert client.inspect(cid)["State"]["Health"]["Status"] == "healthy"
        # already healthy: no event needed, returns on the first read
        assert _timed(engine_api.wait_condition, client, cid, name, "service_healthy", 5) < 5
    finally:
        client.remove(cid, force=True)


def test_a_dependency_that_dies_fails_the_wait_at_once(client: Client, unique: str) -> None:
    name = f"{unique}-d"
    # its probe never passes and its first counted one would come in a minute
    # (the start ramp's failures are not counted): the exit is what ends the wait
    cid = _run(client, name, "sleep 2; exit 4", ["CMD", "false"], interval=60)
    try:
        t0 = time.monotonic()
        with pytest.raises(EngineCommandError, match=r"exited \(4\)"):
            engine_api.wait_condition(client, cid, name, "service_healthy", DEADLINE)
        assert time.monotonic() - t0 < DEADLINE
    finally:
        client.remove(cid, force=True)


def test_completed_successfully_wakes_on_the_exit(client: Client, unique: str) -> None:
    ok, bad = f"{unique}-ok", f"{unique}-bad"
    cids = [_run(client, ok, "sleep 2; exit 0"), _run(client, bad, "sleep 2; exit 3")]
    try:
        took = _timed(engine_api.wait_condition, client, cids[0], ok,
                      "service_completed_successfully", DEADLINE)
        assert took < DEADLINE
        with pytest.raises(EngineCommandError, match="didn't complete successfully: exit 3"):
            engine_api.wait_condition(client, cids[1], bad, "service_completed_successfully",
                                      DEADLINE)
    finally:
        for cid in cids:
            client.remove(cid, force=True)


def test_bad_condition_and_missing_container_are_named(client: Client, unique: str) -> None:
    name = f"{unique}-x"
    cid = _run(client, name, "exec sleep 300")
    try:
        with pytest.raises(EngineCommandError, match="unknown depends_on condition 'nope'"):
            engine_api.wait_condition(client, cid, name, "nope", 5)
        with pytest.raises(EngineCommandError, match="has no healthcheck configured"):
            engine_api.wait_condition(client, cid, name, "service_healthy", 5)
    finally:
        client.remove(cid, force=True)
    with pytest.raises(EngineCommandError, match=f"dependency {name}"):
        engine_api.wait_condition(client, cid, name, "service_started", 5)
