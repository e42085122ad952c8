"""The ``dockyard`` CLI as a client of the daemon: docker's commands, output, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from daemon_helpers import DOCKYARD, Daemon, tmux_pane, wait_for

pytestmark = pytest.mark.needs_root


def dy(d: Daemon, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCKER_HOST": d.host}
    return subprocess.run([DOCKYARD, *args], input=input, capture_output=True, env=env,
                          timeout=60)


def test_run_exit_codes(cli_daemon: Daemon) -> None:
    d = cli_daemon
    r = dy(d, "run", "--rm", "busybox", "echo", "hello")
    assert (r.returncode, r.stdout) == (0, b"hello\n"), r.stderr
    r = dy(d, "run", "--rm", "busybox", "sh", "-c", "echo oops >&2; exit 9")
    assert (r.returncode, r.stderr) == (9, b"oops\n")
    r = dy(d, "run", "--rm", "busybox", "no-such-binary")
    assert r.returncode == 127 and b"executable file not found" in r.stderr
    r = dy(d, "run", "--rm", "no-such-image-x", "true")
    assert r.returncode == 125 and b"Unable to find image" in r.stderr
    r = dy(d, "run", "--memory", "1k", "busybox", "true")
    assert r.returncode == 125 and b"Minimum memory limit" in r.stderr
    r = dy(d, "run", "--rm", "-i", "busybox", "cat", input=b"through stdin\n")
    assert (r.returncode, r.stdout) == (0, b"through stdin\n")


def test_container_commands(cli_daemon: Daemon, unique: str) -> None:
    d = cli_daemon
    r = dy(d, "run", "-d", "--name", unique, "-l", "who=cli", "busybox", "sh", "-c",
           "echo started; echo warn >&2; sleep 100")
    cid = r.stdout.strip().decode()
    assert r.returncode == 0 and len(cid) == 64
    ps = dy(d, "ps").stdout.decode().splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                             "NAMES"]
    assert any(line.startswith(cid[:12]) and line.endswith(unique) for line in ps[1:])
    assert cid[:12].encode() in dy(d, "ps", "-q", "--filter", "label=who=cli").stdout.split()
    assert dy(d, "ps", "--filter", f"name={unique}", "--format",
              "{{.Names}} {{.State}}").stdout == f"{unique} running\n".encode()
    assert dy(d, "ps", "--no-trunc", "-q", "--filter", f"id={cid[:10]}").stdout.strip() == \
        cid.encode()
    time.sleep(0.2)
    r = dy(d, "logs", unique)
    assert (r.stdout, r.stderr) == (b"started\n", b"warn\n")
    r = dy(d, "exec", unique, "sh", "-c", "echo in-exec; exit 3")
    assert (r.returncode, r.stdout) == (3, b"in-exec\n")
    r = dy(d, "exec", "-i", unique, "sh", "-c", "cat; echo after-eof", input=b"x\n")
    assert (r.returncode, r.stdout) == (0, b"x\nafter-eof\n")
    doc = json.loads(dy(d, "inspect", unique).stdout)
    assert doc[0]["Id"] == cid and doc[0]["Config"]["Labels"]["who"] == "cli"
    assert dy(d, "inspect", "-f", "{{.State.Running}}", unique).stdout == b"true\n"
    r = dy(d, "inspect", "no-such-container-x")
    assert r.returncode == 1 and b"No such object" in r.stderr
    r = dy(d, "rm", unique)
    assert r.returncode == 1 and b"force remove" in r.stderr
    assert dy(d, "stop", "-t", "1", unique).stdout == f"{unique}\n".encode()
    assert b"Exited (137)" in dy(d, "ps", "-a", "--filter", f"name={unique}").stdout
    assert dy(d, "start", unique).returncode == 0
    assert dy(d, "rm", "-f", unique).returncode == 0
    assert dy(d, "ps", "-aq", "--filter", f"name={unique}").stdout == b""
    r = dy(d, "create", "--name", unique, "busybox", "echo", "later")
    assert r.returncode == 0
    assert dy(d, "start", "-a", unique).stdout == b"later\n"
    assert dy(d, "rm", unique).returncode == 0


def test_version_and_info(cli_daemon: Daemon) -> None:
    r = dy(cli_daemon, "version", "--format", "{{.Server.ApiVersion}}")
    assert r.stdout == b"1.50\n"
    assert b"Storage Driver: overlay" in dy(cli_daemon, "info").stdout
    r = subprocess.run([DOCKYARD, "ps"], capture_output=True,
                       env={**os.environ, "DOCKER_HOST": "unix:///tmp/dy-nonexistent.sock"})
    assert r.returncode == 1 and b"Cannot connect" in r.stderr


def test_run_it_under_tmux(cli_daemon: Daemon, unique: str) -> None:
    d = cli_daemon
    out = f"{d.dir}/{unique}.out"
    cmd = f"DOCKER_HOST={d.host} {DOCKYARD} run -it --rm busybox sh; echo EXITED $? > {out}"
    subprocess.run(["tmux", "new-session", "-d", "-s", unique, "-x", "77", "-y", "19", cmd],
                   check=True)
    try:
        wait_for(lambda: b"/ #" in tmux_pane(unique))
        subprocess.run(["tmux", "send-keys", "-t", unique, "stty size", "Enter"], check=True)
        wait_for(lambda: b"19 77" in tmux_pane(unique))
        subprocess.run(["tmux", "send-keys", "-t", unique, "exit 8", "Enter"], check=True)
        wait_for(lambda: os.path.exists(out) and open(out).read().strip() == "EXITED 8")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", unique], capture_output=True)




def test_lifecycle_commands(cli_daemon: Daemon, unique: str) -> None:
    d = cli_daemon
    assert dy(d, "run", "-d", "--name", unique, "busybox", "sleep", "100").returncode == 0
    assert dy(d, "pause", unique).stdout == f"{unique}\n".encode()
    assert b"(Paused)" in dy(d, "ps", "--filter", f"name={unique}").stdout
    assert dy(d, "unpause", unique).returncode == 0
    top = dy(d, "top", unique).stdout.decode().splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and top[1].endswith("sleep 100")
    assert dy(d, "rename", unique, unique + "-2").returncode == 0
    assert dy(d, "restart", "-t", "0", unique + "-2").returncode == 0
    assert dy(d, "kill", unique + "-2").returncode == 0
    assert dy(d, "wait", unique + "-2").stdout == b"137\n"
    r = dy(d, "kill", unique + "-2")
    assert r.returncode == 1 and b"is not running" in r.stderr
    assert dy(d, "rm", unique + "-2").returncode == 0


def test_run_init_126_and_network_files(cli_daemon: Daemon) -> None:
    d = cli_daemon
    r = dy(d, "run", "--rm", "busybox", "/etc/hosts")
    assert r.returncode == 126 and b"permission denied" in r.stderr, r.stderr
    r = dy(d, "run", "--rm", "--init", "busybox", "sh", "-c", "ps -o pid,comm; exit 3")
    assert r.returncode == 3 and b"1 docker-init" in b" ".join(r.stdout.split()), r.stdout
    r = dy(d, "run", "--rm", "--add-host", "cache.test:10.9.8.7", "--dns", "9.9.9.9",
           "--dns-search", "corp.test", "--dns-option", "ndots:3", "--log-driver", "local",
           "busybox", "cat", "/etc/hosts", "/etc/resolv.conf")
    assert r.returncode == 0, r.stderr
    for want in (b"10.9.8.7\tcache.test\n", b"nameserver 9.9.9.9\n", b"search corp.test\n",
                 b"options ndots:3\n"):
        assert want in r.stdout, (want, r.stdout)
