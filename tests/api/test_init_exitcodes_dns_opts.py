"""--init (our reaper as PID 1), exit codes 126/127, --add-host/--dns
files, through the real docker CLI against a private daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from daemon_helpers import DOCKER, Daemon

from dockyard.engine.bundle import init_command

pytestmark = pytest.mark.needs_root


def test_init_reaps_orphans_and_propagates_the_exit_code(shared_daemon: Daemon) -> None:
    d = shared_daemon
    # the subshell's `sleep 0.2` is orphaned: PID 1 inherits it and must reap it
    r = d.docker("run", "--rm", "--init", "busybox", "sh", "-c",
                 "(sleep 0.2 &); sleep 1; ps -o pid,stat,comm; exit 7")
    assert r.returncode == 7, r.stderr
    rows = [line.split() for line in r.stdout.decode().splitlines()[1:]]
    assert rows[0][0] == "1" and rows[0][2] == "docker-init", rows
    assert not [row for row in rows if row[1].startswith("Z")], rows  # no zombie left
    # the command's stdin is ours (a background job would get /dev/null)
    r = d.docker("run", "-i", "--rm", "--init", "busybox", "cat", input=b"through-init")
    assert (r.returncode, r.stdout) == (0, b"through-init"), r.stderr


def test_init_forwards_signals(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    # sleep as the command: it dies of the SIGTERM that init forwards, so
    # stop is quick (no 10 s grace then SIGKILL) and the code is 128+15
    d.docker("run", "-d", "--name", unique, "--init", "busybox", "sleep", "100", check=True)
    # PID 1 ignores a signal it has no handler for yet: wait until the init
    # has forked the command (its handlers are set up before that fork).
    deadline = time.monotonic() + 30
    while b"sleep 100" not in d.docker("top", unique).stdout:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    t = time.monotonic()
    d.docker("stop", "-t", "60", unique, check=True)
    assert time.monotonic() - t < 30  # forwarded: not the grace period then SIGKILL
    assert d.docker("inspect", "-f", "{{.State.ExitCode}}", unique).stdout.strip() == b"143"
    d.docker("rm", unique, check=True)
    # a handler in the command sees the forwarded signal and picks the code
    name = unique + "-trap"
    d.docker("run", "-d", "--name", name, "--init", "busybox", "sh", "-c",
             'trap "exit 42" USR1; echo ready; while :; do sleep 0.1; done', check=True)
    deadline = time.monotonic() + 30
    while b"ready" not in d.docker("logs", name).stdout:  # the trap is set
        assert time.monotonic() < deadline, "the handler was never set"
        time.sleep(0.1)
    d.docker("kill", "-s", "USR1", name, check=True)
    assert d.docker("wait", name, timeout=10).stdout.strip() == b"42"
    d.docker("rm", name, check=True)


def test_cannot_invoke_is_126_and_not_found_is_127(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    for argv, code, text in ((["/etc/hosts"], 126, b"permission denied"),
                             (["/etc"], 126, b"is a directory"),
                             (["/no/such"], 127, b"no such file or directory"),
                             (["no-such-command"], 127, b"executable file not found")):
        r = d.docker("run", "--rm", "busybox", *argv)
        assert r.returncode == code and text in r.stderr, (argv, r.returncode, r.stderr)
    # a non-executable regular file of the image itself (not a bind mount)
    r = d.docker("run", "--rm", "busybox", "/etc/passwd")
    assert r.returncode == 126, r.stderr
    # the code is recorded in the container's state too
    d.docker("create", "--name", unique, "busybox", "/etc/hosts", check=True)
    assert d.docker("start", unique).returncode != 0
    doc = json.loads(d.docker("inspect", unique, check=True).stdout)[0]
    assert doc["State"]["ExitCode"] == 126 and "permission denied" in doc["State"]["Error"]
    d.docker("rm", unique, check=True)


def test_add_host_and_dns_options_reach_the_files(shared_daemon: Daemon) -> None:
    d = shared_daemon
    r = d.docker("run", "--rm", "--add-host", "db.example:10.1.2.3", "--dns", "9.9.9.9",
                 "--dns-search", "example.com", "--dns-option", "ndots:2",
                 "busybox", "cat", "/etc/hosts", "/etc/resolv.conf", check=True)
    out = r.stdout.decode()
    assert "10.1.2.3\tdb.example\n" in out
    assert "nameserver 9.9.9.9\n" in out and "search example.com\n" in out
    assert "options ndots:2\n" in out
    # bad input: named, 400 → exit 125, nothing created
    before = d.docker("ps", "-aq").stdout
    r = d.docker("run", "--rm", "--dns", "not-an-ip", "busybox", "true")
    assert r.returncode == 125 and b"not-an-ip" in r.stderr
    # this daemon has no bridge: no host-gateway address to give
    r = d.docker("run", "--rm", "--add-host", "h:host-gateway", "busybox", "true")
    assert r.returncode == 125 and b"host-gateway" in r.stderr
    assert d.docker("ps", "-aq").stdout == before


def test_bad_network_aliases_are_refused(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    with d.api() as api:
        for aliases in ("db", [""], [1]):
            r = api.post("/containers/create", params={"name": unique},
                         json={"Image": "busybox", "Cmd": ["true"], "NetworkingConfig": {
                             "EndpointsConfig": {"n1": {"Aliases": aliases}}}})
            assert r.status_code == 400 and "Aliases" in r.json()["message"], r.text
        r = api.get(f"/containers/{unique}/json")
        assert r.status_code == 404  # nothing half-made


def test_init_under_a_terminal_lets_ctrl_c_reach_the_command(shared_daemon: Daemon,
                                                            unique: str) -> None:
    d = shared_daemon
    rc = f"{d.dir}/{unique}.rc"
    cmd = (f"DOCKER_HOST={d.host} DOCKER_CONFIG={d.dir} {DOCKER} run -it --rm --init "
           f"busybox sh; echo RC=$? > {rc}")
    subprocess.run(["tmux", "new-session", "-d", "-s", unique, "-x", "80", "-y", "20", cmd],
                   check=True)

    def pane() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", unique],
                              capture_output=True, text=True).stdout

    def wait_for(cond: object) -> None:
        deadline = time.monotonic() + 10
        while not cond():  # type: ignore[operator]
            assert time.monotonic() < deadline, pane()
            time.sleep(0.05)

    try:
        wait_for(lambda: "#" in pane())
        subprocess.run(["tmux", "send-keys", "-t", unique, "sleep 30", "Enter"], check=True)
        time.sleep(0.3)
        # ^C must stop the sleep (its process group is the terminal's), not
        # be swallowed by PID 1 or ignored by the command
        subprocess.run(["tmux", "send-keys", "-t", unique, "C-c"], check=True)
        subprocess.run(["tmux", "send-keys", "-t", unique, "echo back-$((2+3)); exit 4",
                        "Enter"], check=True)
        wait_for(lambda: os.path.exists(rc) and open(rc).read().strip() == "RC=4")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", unique], capture_output=True)


def test_busybox_fallback_init_reaps_forwards_and_exits() -> None:
    """Without a compiler: the busybox script, run here on the host."""
    binary, prefix = init_command("")
    assert prefix[0].endswith("/busybox-init") and prefix[1:3] == ["sh", "-c"]
    argv = ["busybox", *prefix[1:]]
    r = subprocess.run([*argv, "sh", "-c", "exit 9"], executable=binary, timeout=10)
    assert r.returncode == 9
    p = subprocess.Popen([*argv, "sleep", "30"], executable=binary)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)  # forwarded: sleep dies of it, 128+15
    assert p.wait(10) == 143
