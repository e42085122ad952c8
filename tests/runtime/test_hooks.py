"""Hooks: each runs at its moment with the state on stdin; failures as the spec says."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from rt_helpers import CLI, Bundle

pytestmark = pytest.mark.needs_root


def hook(out: Path | str, extra: str = "") -> dict[str, object]:
    return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}{extra}"]}


def test_every_hook_runs_with_state(runtime_cli: CLI, bundle: Bundle, unique: str, tmp_path: Path) -> None:
    host = tmp_path / "hooks"
    host.mkdir()
    bundle.config["root"]["readonly"] = False
    bundle.config["hooks"] = {
        "prestart": [hook(host / "prestart")],
        "createRuntime": [hook(host / "createRuntime")],
        "createContainer": [hook(host / "createContainer")],
        "startContainer": [hook("/tmp/startContainer")],  # resolved inside the container
        "poststart": [hook(host / "poststart")],
        "poststop": [hook(host / "poststop")],
    }
    bundle.process["args"] = ["sh", "-c", "sleep 0.2"]
    assert runtime_cli.create(unique, bundle).returncode == 0
    created = {p.name for p in host.iterdir()}
    if runtime_cli.name == "runc":
        created.discard("poststart")  # runc 1.1 runs poststart during create; the spec says after start
    assert created == {"prestart", "createRuntime", "createContainer"}
    pid = runtime_cli.state(unique)["pid"]
    for name in created:
        st = json.loads((host / name).read_text())
        assert st["id"] == unique and st["bundle"] == str(bundle.path)
        if runtime_cli.name == "dockyard" or name != "createContainer":
            assert st["pid"] == pid  # runc 1.1 gives createContainer the in-namespace pid (1)
        assert st["status"] == "creating"
    assert runtime_cli("start", unique).returncode == 0
    if runtime_cli.name == "dockyard":
        assert json.loads((host / "poststart").read_text())["status"] in ("running", "stopped")
    inside = bundle.rootfs / "tmp" / "startContainer"
    deadline = time.monotonic() + 5
    while not inside.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert json.loads(inside.read_text())["id"] == unique
    runtime_cli("kill", unique, "KILL")
    time.sleep(0.3)
    assert runtime_cli("delete", "--force", unique).returncode == 0
    assert json.loads((host / "poststop").read_text())["status"] == "stopped"


@pytest.mark.parametrize("phase", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_fails_create_and_cleans_up(runtime_cli: CLI, bundle: Bundle, unique: str,
                                                         phase: str) -> None:
    bundle.config["hooks"] = {phase: [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]}
    r = runtime_cli.create(unique, bundle)
    assert r.returncode != 0
    assert runtime_cli("list", "-q").stdout.split() == []
    assert not (runtime_cli.root / unique).exists()


def test_hook_timeout(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]}
    t0 = time.monotonic()
    r = cli.create(unique, bundle)
    assert r.returncode == 1 and "timed out" in r.stderr
    assert time.monotonic() - t0 < 4.8  # the hook sleeps 5: under that, the timeout worked
    assert not (cli.root / unique).exists()


def test_poststart_failure_is_only_a_warning(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.config["hooks"] = {"poststart": [{"path": "/bin/false"}]}
    bundle.process["args"] = ["sleep", "5"]
    assert cli.create(unique, bundle).returncode == 0
    r = cli("start", unique)
    assert r.returncode == 0 and "poststart" in r.stderr
