"""create → start → state → kill → delete, through the CLI; the same against runc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from rt_helpers import CLI, Bundle, in_container

from dockyard.runtime import Runtime

pytestmark = pytest.mark.needs_root


def wait_status(cli: CLI, cid: str, want: str, timeout: float = 5) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        s = cli.state(cid)
        if s["status"] == want or time.monotonic() > deadline:
            return s
        time.sleep(0.02)


def test_lifecycle(runtime_cli: CLI, bundle: Bundle, unique: str, tmp_path: Path) -> None:
    bundle.process["args"] = ["sleep", "30"]
    pid_file = tmp_path / "pid"
    r = runtime_cli.create(unique, bundle, "--pid-file", str(pid_file))
    assert r.returncode == 0, r.stderr
    s = runtime_cli.state(unique)
    assert s["status"] == "created"
    assert s["id"] == unique and s["bundle"] == str(bundle.path)
    assert {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created"} <= set(s)
    assert int(pid_file.read_text()) == s["pid"]
    assert runtime_cli("start", unique).returncode == 0
    assert runtime_cli.state(unique)["status"] == "running"
    # the init is the user's program, pid 1 of its namespace. `start` returns
    # once the init is released, and (runc and we alike) the exec follows a
    # moment later: poll, or a loaded machine reads the init's old cmdline.
    deadline = time.monotonic() + 5
    while True:
        with open(f"/proc/{s['pid']}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0")[0]
        if argv0 == b"sleep" or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert argv0 == b"sleep"
    listed = json.loads(runtime_cli("list", "--format", "json").stdout)
    assert [c["id"] for c in listed] == [unique]
    table = runtime_cli("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[:3] == [unique, str(s["pid"]), "running"]
    assert runtime_cli("kill", unique, "KILL").returncode == 0
    assert wait_status(runtime_cli, unique, "stopped")["status"] == "stopped"
    assert runtime_cli("delete", unique).returncode == 0
    assert runtime_cli("state", unique).returncode != 0
    assert not (runtime_cli.root / unique).exists()


def test_run_exit_status_and_output(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    r = in_container(runtime_cli, bundle, "echo out; echo err >&2; exit 7", unique)
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")
    assert runtime_cli("state", unique).returncode != 0  # run removes it


def _run_in_background(cli: CLI, bundle: Bundle, cid: str, pid_file: Path) -> subprocess.Popen[str]:
    bundle.write()
    proc = subprocess.Popen(
        [cli.binary, "--root", str(cli.root), "run", "--bundle", str(bundle.path),
         "--pid-file", str(pid_file), cid],
        stdout=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def test_run_forwards_signals(runtime_cli: CLI, bundle: Bundle, unique: str, tmp_path: Path) -> None:
    # pid 1 only gets signals it handles: the trap makes TERM visible.
    bundle.process["args"] = ["sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; "
                              "while true; do sleep 0.05; done"]
    proc = _run_in_background(runtime_cli, bundle, unique, tmp_path / "pid")
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 42
    assert proc.stdout.read() == "got TERM\n"


def test_run_killed_by_signal(runtime_cli: CLI, bundle: Bundle, unique: str, tmp_path: Path) -> None:
    bundle.process["args"] = ["sleep", "30"]
    proc = _run_in_background(runtime_cli, bundle, unique, tmp_path / "pid")
    assert wait_status(runtime_cli, unique, "running")["status"] == "running"
    os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
    assert proc.wait(10) == 128 + 9


def test_errors_like_runc(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["sleep", "30"]
    assert runtime_cli.create(unique, bundle).returncode == 0
    dup = runtime_cli.create(unique, bundle)
    assert dup.returncode != 0 and "exists" in dup.stderr
    assert len(dup.stderr.strip().splitlines()) == 1
    assert runtime_cli("start", unique).returncode == 0
    again = runtime_cli("start", unique)
    assert again.returncode != 0
    busy = runtime_cli("delete", unique)
    assert busy.returncode != 0 and "running" in busy.stderr
    assert runtime_cli("kill", unique, "9").returncode == 0
    wait_status(runtime_cli, unique, "stopped")
    stopped = runtime_cli("kill", unique)
    assert stopped.returncode != 0 and "not running" in stopped.stderr
    assert runtime_cli("start", unique).returncode != 0
    assert runtime_cli("delete", unique).returncode == 0
    missing = runtime_cli("state", unique)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    assert runtime_cli("delete", "--force", unique).returncode == 0


def test_delete_created_and_force_running(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["sleep", "30"]
    assert runtime_cli.create(unique, bundle).returncode == 0
    pid = runtime_cli.state(unique)["pid"]
    assert runtime_cli("delete", unique).returncode == 0  # created: allowed, like runc
    assert not os.path.exists(f"/proc/{pid}/cmdline") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert runtime_cli.create(unique + "b", bundle).returncode == 0
    assert runtime_cli("start", unique + "b").returncode == 0
    assert runtime_cli("delete", "--force", unique + "b").returncode == 0
    assert runtime_cli("list", "-q").stdout.split() == []


def test_in_process_api(bundle: Bundle, state_root: Path, unique: str) -> None:
    rt = Runtime(root=str(state_root))
    r, w = os.pipe()
    bundle.process["args"] = ["sh", "-c", "echo hi from $(hostname); exit 3"]
    bundle.write()
    try:
        st = rt.create(unique, str(bundle.path), stdio=(0, w, w))
        os.close(w)
        assert st.status == "created" and st.pid > 0
        rt.start(unique)
        assert rt.wait(unique) == 3
        assert os.read(r, 100) == b"hi from runc\n"
        assert rt.state(unique).status == "stopped"
        assert [s.id for s in rt.list()] == [unique]
    finally:
        os.close(r)
        rt.delete(unique, force=True)
    assert rt.list() == []


def test_in_process_delete_reaps_the_init(bundle: Bundle, state_root: Path, unique: str) -> None:
    """No zombie is left in the caller when it deletes without waiting first."""
    rt = Runtime(root=str(state_root))
    bundle.process["args"] = ["true"]
    bundle.write()
    pid = rt.run(unique, str(bundle.path)).pid
    deadline = time.monotonic() + 5
    while rt.state(unique).status != "stopped" and time.monotonic() < deadline:
        time.sleep(0.01)
    rt.delete(unique)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_in_process_kill_and_exec(bundle: Bundle, state_root: Path, unique: str) -> None:
    rt = Runtime(root=str(state_root))
    bundle.process["args"] = ["sleep", "30"]
    bundle.write()
    rt.run(unique, str(bundle.path))
    try:
        r, w = os.pipe()
        pid = rt.exec(unique, ["sh", "-c", "echo $$ $FOO; cat /proc/1/cmdline"], env=["FOO=bar"],
                      stdio=(0, w, w))
        os.close(w)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        out = os.read(r, 200)
        os.close(r)
        assert out.startswith(b"2 bar\n") and b"sleep" in out
        assert rt.ps(unique)[0] == rt.state(unique).pid
        rt.kill(unique, "KILL")  # pid 1 ignores TERM without a handler
        assert rt.wait(unique) == 128 + signal.SIGKILL
    finally:
        rt.delete(unique, force=True)


def test_quiet_list_of_nothing_prints_nothing(runtime_cli: CLI) -> None:
    """runc prints no line at all (a shim splitting on newlines must not see an empty id)."""
    r = runtime_cli("list", "-q")
    assert r.returncode == 0 and r.stdout == ""
