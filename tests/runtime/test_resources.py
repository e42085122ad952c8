"""pause/resume, update, events --stats and ps, through the cgroup manager."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from rt_helpers import CLI, Bundle

pytestmark = pytest.mark.needs_root


@pytest.fixture
def running(runtime_cli: CLI, bundle: Bundle, unique: str) -> str:
    bundle.process["args"] = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /dev/shm/n; "
                              "sleep 0.01; done"]
    bundle.linux["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
    bundle.linux["resources"]["pids"] = {"limit": 50}
    assert runtime_cli.create(unique, bundle).returncode == 0
    assert runtime_cli("start", unique).returncode == 0
    return unique


def counter(cli: CLI, cid: str) -> int:
    pid = cli.state(cid)["pid"]
    with open(f"/proc/{pid}/root/dev/shm/n") as f:
        return int(f.read().strip() or 0)


def test_pause_resume(runtime_cli: CLI, running: str) -> None:
    assert runtime_cli("pause", running).returncode == 0
    assert runtime_cli.state(running)["status"] == "paused"
    time.sleep(0.05)
    before = counter(runtime_cli, running)
    time.sleep(0.2)
    assert counter(runtime_cli, running) == before  # frozen: nothing runs
    assert runtime_cli("resume", running).returncode == 0
    assert runtime_cli.state(running)["status"] == "running"
    deadline = time.monotonic() + 20  # resumed: it counts again
    while counter(runtime_cli, running) <= before:
        assert time.monotonic() < deadline, "nothing ran after resume"
        time.sleep(0.1)
    again = runtime_cli("resume", running)
    assert again.returncode != 0


def test_update_and_stats(runtime_cli: CLI, running: str) -> None:
    r = runtime_cli("update", "--memory", "32m", "--pids-limit", "20", running)
    assert r.returncode == 0, r.stderr
    ev = json.loads(runtime_cli("events", "--stats", running).stdout)
    assert ev["type"] == "stats" and ev["id"] == running
    data = ev["data"]
    assert data["memory"]["usage"]["limit"] == 32 * 1024 * 1024
    assert data["pids"]["limit"] == 20 and data["pids"]["current"] >= 1
    assert data["cpu"]["usage"]["total"] > 0


def test_ps_lists_container_processes(runtime_cli: CLI, running: str) -> None:
    pids = json.loads(runtime_cli("ps", "--format", "json", running).stdout)
    init = runtime_cli.state(running)["pid"]
    assert init in pids
    table = runtime_cli("ps", running).stdout.splitlines()
    assert table[0].split()[:2] == ["UID", "PID"] and any(str(init) in line for line in table[1:])


def test_update_from_resources_file(runtime_cli: CLI, running: str, tmp_path: Path) -> None:
    cli = runtime_cli
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"pids": {"limit": 33}}))
    assert cli("update", "-r", str(res), running).returncode == 0
    ev = json.loads(cli("events", "--stats", running).stdout)
    assert ev["data"]["pids"]["limit"] == 33
    res.write_text("{not json")
    bad = cli("update", "-r", str(res), running)
    assert bad.returncode == 1
    if cli.name == "dockyard":
        assert "res.json" in bad.stderr


def test_kill_all(runtime_cli: CLI, running: str) -> None:
    subprocess.run([runtime_cli.binary, "--root", str(runtime_cli.root), "exec", "-d", running,
                    "sleep", "30"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=20)
    pids = json.loads(runtime_cli("ps", "--format", "json", running).stdout)
    assert len(pids) >= 2
    assert runtime_cli("kill", "--all", running, "KILL").returncode == 0
    deadline = time.monotonic() + 5
    while runtime_cli.state(running)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                assert f.read().split(") ")[1][0] == "Z"
        except FileNotFoundError:
            pass
