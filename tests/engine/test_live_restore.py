"""kill -9 of the daemon leaves containers running; the next daemon takes them over.

Driven with the real docker CLI against a private daemon.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root


def _state(d: Daemon, name: str) -> dict[str, object]:
    r = d.docker("inspect", "--format", "{{json .State}}", name, check=True)
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_kill9_daemon_keeps_containers_and_records_exits(daemon: Daemon, unique: str) -> None:
    tick, short = f"{unique}-tick", f"{unique}-short"
    daemon.docker("run", "-d", "--name", tick, "busybox", "sh", "-c",
                  "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done", check=True)
    daemon.docker("run", "-d", "--name", short, "busybox", "sh", "-c", "sleep 1.5; exit 7",
                  check=True)
    pid = int(_state(daemon, tick)["Pid"])  # type: ignore[call-overload]
    daemon.kill9()
    # While no daemon runs: the container lives on and keeps logging; the
    # other one exits, with nobody but its supervisor to see it.
    time.sleep(2.0)
    os.kill(pid, 0)
    daemon.start()

    ps = daemon.docker("ps", "--format", "{{.Names}} {{.State}}", check=True).stdout.decode()
    assert f"{tick} running" in ps
    st = _state(daemon, short)
    assert st["Status"] == "exited" and st["ExitCode"] == 7
    before = daemon.docker("logs", tick, check=True).stdout.decode().splitlines()
    assert len(before) >= 15  # logged while the daemon was down, too
    time.sleep(0.5)
    after = daemon.docker("logs", tick, check=True).stdout.decode().splitlines()
    assert len(after) > len(before)
    # The restored container is fully driven again: exec, then stop.
    r = daemon.docker("exec", tick, "echo", "again", check=True)
    assert r.stdout == b"again\n"
    daemon.docker("kill", tick, check=True)
    assert daemon.docker("wait", tick, check=True).stdout.strip() == b"137"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_restart_policies_live_and_at_daemon_start(daemon: Daemon, unique: str) -> None:
    onf, always, unless = f"{unique}-onf", f"{unique}-always", f"{unique}-unless"
    daemon.docker("run", "-d", "--name", onf, "--restart", "on-failure:2", "busybox",
                  "sh", "-c", "exit 3", check=True)
    daemon.docker("run", "-d", "--name", always, "--restart", "always", "busybox",
                  "sleep", "100", check=True)
    daemon.docker("run", "-d", "--name", unless, "--restart", "unless-stopped", "busybox",
                  "sleep", "100", check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = json.loads(daemon.docker("inspect", "--format", "{{json .}}", onf).stdout)
        if st["RestartCount"] == 2 and not st["State"]["Running"] and \
                not st["State"]["Restarting"]:
            break
        time.sleep(0.1)
    assert st["RestartCount"] == 2 and st["State"]["ExitCode"] == 3
    daemon.docker("stop", "-t", "0", unless, check=True)
    # A reboot, as the daemon sees it: no daemon, no supervisors, no containers.
    pids = [int(_state(daemon, always)["Pid"])]  # type: ignore[call-overload]
    daemon.kill9()
    for pid in pids:
        os.kill(pid, 9)
    time.sleep(0.5)
    daemon.start()
    assert _state(daemon, always)["Running"] is True
    assert _state(daemon, unless)["Running"] is False  # stopped by hand before
    assert _state(daemon, onf)["Running"] is False


def test_kill9_during_concurrent_creates_leaves_all_or_nothing(daemon: Daemon,
                                                                unique: str) -> None:
    import threading

    import httpx

    def create(i: int) -> None:
        try:
            with daemon.api() as api:
                api.post("/containers/create", params={"name": f"{unique}-{i}"},
                         json={"Image": "busybox", "Cmd": ["true"]})
        except httpx.HTTPError:
            pass  # the daemon died under us: that is the point

    threads = [threading.Thread(target=create, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    time.sleep(0.25)
    daemon.kill9()
    for t in threads:
        t.join()
    daemon.start()
    listed = {c["Id"] for c in daemon.api().get("/containers/json",
                                                params={"all": "1"}).json()}
    on_disk = set(os.listdir(os.path.join(daemon.root, "containers")))
    assert on_disk == listed  # half-made ones were removed at start
    for cid in listed:
        assert os.path.exists(os.path.join(daemon.root, "containers", cid, "config.v2.json"))
    for cid in sorted(listed)[:2]:  # and the survivors are whole: they run
        assert daemon.docker("start", "-a", cid).returncode == 0
    from dockyard.snapshot import new_snapshotter

    snaps = new_snapshotter("overlay", os.path.join(daemon.root, "snapshots", "overlay"))
    try:
        owned = {i.name for i in snaps.walk() if (i.labels or {}).get("dockyard/container")}
    finally:
        snaps.close()
    assert owned == listed
