"""Bad input: one-line errors, non-zero exits, nothing left behind; as runc does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from rt_helpers import CLI, Bundle

pytestmark = pytest.mark.needs_root


def assert_clean(cli: CLI, cid: str) -> None:
    assert not (cli.root / cid).exists()
    assert not os.path.exists(f"/sys/fs/cgroup/pids/dockyard/{cid}")
    assert not os.path.exists(f"/sys/fs/cgroup/pids/{cid}")


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize("content,needle", [
    ("{not json", "config.json"),
    ('{"ociVersion": "2.0.0", "process": {"args": ["true"]}, "root": {"path": "rootfs"}}', "2.0.0"),
    ('{"ociVersion": "1.0.2", "process": {"args": ["true"], "user": {"uid": "zero"}}, '
     '"root": {"path": "rootfs"}}', "uid"),
])
def test_malformed_config(cli: CLI, bundle: Bundle, unique: str, content: str, needle: str) -> None:
    (bundle.path / "config.json").write_text(content)
    r = subprocess.run([cli.binary, "--root", str(cli.root), "create", "-b", str(bundle.path), unique],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert needle in one_line_error(r)
    assert_clean(cli, unique)


def test_unknown_namespace(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["namespaces"].append({"type": "bogus"})
    r = runtime_cli.create(unique, bundle)
    assert "bogus" in one_line_error(r)
    assert_clean(runtime_cli, unique)


def test_missing_rootfs(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.config["root"]["path"] = str(bundle.path / "nope")
    r = runtime_cli.create(unique, bundle)
    assert "nope" in one_line_error(r)
    assert_clean(runtime_cli, unique)


def test_unknown_capability_and_rlimit(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["capabilities"]["bounding"] = ["CAP_FLY"]
    assert "CAP_FLY" in one_line_error(cli.create(unique, bundle))
    bundle.process["capabilities"]["bounding"] = ["CAP_KILL"]
    bundle.process["rlimits"] = [{"type": "RLIMIT_WINGS", "soft": 1, "hard": 1}]
    assert "RLIMIT_WINGS" in one_line_error(cli.create(unique, bundle))
    assert_clean(cli, unique)


def test_missing_binary(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["/no/such/thing"]
    r = runtime_cli.create(unique, bundle)
    assert "/no/such/thing" in one_line_error(r)
    assert_clean(runtime_cli, unique)


def test_bad_ids(runtime_cli: CLI, bundle: Bundle) -> None:
    for bad in ("../escape", "a/b", "x y"):
        r = runtime_cli.create(bad, bundle)
        assert r.returncode != 0
    assert not any(runtime_cli.root.glob("*")) if runtime_cli.root.exists() else True


def test_crash_mid_create_is_cleaned_by_delete_force(cli: CLI, bundle: Bundle, unique: str,
                                                     tmp_path: Path) -> None:
    """kill -9 of the runtime while the init is half set up (in a createRuntime hook)."""
    marker = tmp_path / "in-hook"
    bundle.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {marker}.tmp; mv {marker}.tmp {marker}; "
                                             "exec sleep 30"]}]}
    bundle.write()
    proc = subprocess.Popen([cli.binary, "--root", str(cli.root), "create", "-b", str(bundle.path), unique],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    state = json.loads((cli.root / unique / "state.json").read_text())
    init = state["pid"]
    assert init > 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (cli.root / unique).exists()
    assert cli("state", unique).returncode in (0, 1)
    r = cli("delete", "--force", unique)
    assert r.returncode == 0, r.stderr
    assert_clean(cli, unique)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{init}/stat") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not os.path.exists(f"/proc/{init}/stat")
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the orphaned hook


def test_log_json(cli: CLI, tmp_path: Path, unique: str) -> None:
    log = tmp_path / "log.json"
    r = subprocess.run(
        [cli.binary, "--root", str(cli.root), "--log", str(log), "--log-format", "json", "state", unique],
        capture_output=True, text=True)
    assert r.returncode == 1
    entry = json.loads(log.read_text().splitlines()[0])
    assert entry["level"] == "error" and unique in entry["msg"]
