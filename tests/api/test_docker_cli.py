"""The real docker CLI (28.x) against dockyard's daemon, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from daemon_helpers import DOCKER, Daemon, tmux_pane, wait_for

pytestmark = pytest.mark.needs_root


def test_version_negotiation(shared_daemon: Daemon) -> None:
    d = shared_daemon
    r = d.docker("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}}",
                 check=True)
    assert r.stdout.split() == [b"1.50", b"1.24"]
    with d.api() as api:
        for method in ("GET", "HEAD"):
            resp = api.request(method, "/_ping")
            assert resp.status_code == 200 and resp.headers["Api-Version"] == "1.50"
        assert api.get("/_ping").text == "OK"
        assert api.get("/v1.47/containers/json").status_code == 200
        assert api.get("/v1.24/version").json()["ApiVersion"] == "1.50"
        too_new = api.get("/v1.99/containers/json")
        assert too_new.status_code == 400 and "too new" in too_new.json()["message"]
        too_old = api.get("/v1.12/containers/json")
        assert too_old.status_code == 400 and "too old" in too_old.json()["message"]
        assert api.get("/info").json()["Swarm"]["LocalNodeState"] == "inactive"
    info = d.docker("info", "--format", "{{.Driver}} {{.LoggingDriver}}", check=True)
    assert info.stdout.split() == [b"overlay", b"json-file"]


def test_run_rm_echo_and_exit_codes(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    r = d.docker("run", "--rm", "--name", unique, "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, b"hi\n"), r.stderr
    assert d.docker("ps", "-aq", "--filter", f"name={unique}").stdout == b""
    assert d.docker("run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 42").returncode == 42
    r = d.docker("run", "--rm", "busybox", "nosuchcommand")
    assert r.returncode == 127
    assert b"executable file not found" in r.stderr
    # stdin through a hijacked attach, closed at EOF (StdinOnce)
    r = d.docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done",
                 input=b"piped\n")
    assert (r.returncode, r.stdout) == (0, b"piped\ndone\n")


def test_detached_lifecycle(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    name = f"{unique}-web"
    cid = d.docker("run", "-d", "--name", name, "--label", f"suite={unique}", "-e", "FOO=bar",
                   "-w", "/tmp", "-u", "1000:1000", "--hostname", "box", "busybox", "sh", "-c",
                   "trap 'exit 3' TERM; echo $FOO $(pwd) $(id -u) $(hostname); "
                   "while true; do sleep 0.1; done", check=True).stdout.strip().decode()
    assert len(cid) == 64
    line = b"bar /tmp 1000 box\n"
    wait_for(lambda: d.docker("logs", name, check=True).stdout == line)
    # ps with filters, table and --format
    q = d.docker("ps", "-q", "--filter", f"label=suite={unique}", check=True).stdout.split()
    assert q == [cid[:12].encode()]
    assert d.docker("ps", "-q", "--filter", f"name={name}", "--filter", "status=exited",
                    check=True).stdout == b""
    assert cid[:12].encode() in d.docker("ps", "--filter", "ancestor=busybox",
                                         check=True).stdout
    table = d.docker("ps", check=True).stdout.decode().splitlines()
    assert table[0].split()[:2] == ["CONTAINER", "ID"]
    # exec: exit code from /exec/ID/json, stdin half-close (LIBRARIES.md trap 1)
    r = d.docker("exec", "-i", name, "sh", "-c", "cat; echo tail; exit 5", input=b"in\n")
    assert (r.returncode, r.stdout) == (5, b"in\ntail\n")
    r = d.docker("exec", name, "nosuch")
    assert r.returncode == 127 and b"executable file not found" in r.stdout + r.stderr
    top = d.docker("top", name, check=True).stdout.decode()
    assert "sh -c trap" in top
    doc = json.loads(d.docker("inspect", name, check=True).stdout)[0]
    assert doc["Id"] == cid and doc["Name"] == "/" + name
    assert doc["State"]["Running"] and doc["Config"]["Labels"]["suite"] == unique
    assert doc["Config"]["Env"][-1] == "FOO=bar" and doc["HostConfig"]["LogConfig"]["Type"]
    # pause / unpause / rename / restart
    d.docker("pause", name, check=True)
    assert b"(Paused)" in d.docker("ps", "--filter", f"name={name}", check=True).stdout
    r = d.docker("exec", name, "true")
    assert r.returncode != 0 and b"paused" in r.stderr
    d.docker("unpause", name, check=True)
    d.docker("rename", name, name + "2", check=True)
    name += "2"
    d.docker("restart", "-t", "5", name, check=True)
    assert d.docker("inspect", "-f", "{{.State.Running}}", name, check=True).stdout == b"true\n"
    r = d.docker("rm", name)
    assert r.returncode == 1 and b"stop the container before removing" in r.stderr
    # the line again: the restarted shell has set its trap (PID 1 drops a TERM it can't handle)
    wait_for(lambda: d.docker("logs", name, check=True).stdout == line * 2)
    start = time.monotonic()
    d.docker("stop", name, check=True)  # the trap exits 3 on SIGTERM, well before -t
    assert time.monotonic() - start < 9  # the default -t is 10
    assert d.docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout == b"3\n"
    assert d.docker("wait", name, check=True).stdout == b"3\n"
    d.docker("rm", name, check=True)
    assert d.docker("inspect", name).returncode == 1


def test_create_start_attach_kill(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    d.docker("create", "--name", unique, "busybox", "echo", "created", check=True)
    assert b"Created" in d.docker("ps", "-a", "--filter", f"name={unique}", check=True).stdout
    r = d.docker("start", "-a", unique, check=True)
    assert r.stdout == b"created\n"
    d.docker("rm", unique, check=True)
    d.docker("run", "-d", "--name", unique, "busybox", "sleep", "100", check=True)
    d.docker("kill", "-s", "KILL", unique, check=True)
    assert d.docker("wait", unique, check=True).stdout == b"137\n"
    d.docker("rm", "-f", unique, check=True)


def test_bad_input_changes_nothing(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    before = d.docker("ps", "-aq", check=True).stdout
    r = d.docker("create", "--name", "bad/name", "busybox")
    assert r.returncode != 0 and b"Invalid container name" in r.stderr
    r = d.docker("create", "no-such-image-here:v1", "true")
    # The daemon pulls now: with no route to docker.io the pull fails, nothing is created.
    assert r.returncode != 0 and b"Unable to find image 'no-such-image-here:v1' locally" in r.stderr
    r = d.docker("create", "--memory", "1m", "busybox", "true")
    assert r.returncode != 0 and b"Minimum memory limit" in r.stderr
    r = d.docker("create", "--restart", "sometimes", "busybox", "true")
    assert r.returncode != 0
    d.docker("create", "--name", unique, "busybox", "true", check=True)
    r = d.docker("create", "--name", unique, "busybox", "true")
    assert r.returncode != 0 and b"is already in use" in r.stderr
    with d.api() as api:
        resp = api.post("/containers/create", content=b"{not json")
        assert resp.status_code == 400 and "invalid JSON" in resp.json()["message"]
        resp = api.post("/containers/create", json={"Image": "busybox", "Hostname": 5})
        assert resp.status_code == 400 and "$.Hostname" in resp.json()["message"]
        resp = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"],
                                                    "HostConfig": {"CapAdd": ["NOPE"]}})
        assert resp.status_code == 400 and "NOPE" in resp.json()["message"]
        assert api.get("/containers/nope-nope/json").status_code == 404
        # ids and names never reach a path: traversal finds no container
        assert api.get("/containers/..%2F..%2Fetc/json").status_code == 404
        assert api.post("/containers/create", params={"name": "../../etc"},
                        json={"Image": "busybox", "Cmd": ["true"]}).status_code == 400
        assert api.post("/containers/nope-nope/start").status_code == 404
        resp = api.get("/containers/json", params={"filters": '{"bogus":["x"]}'})
        assert resp.status_code == 400
        assert api.post(f"/containers/{unique}/stop").status_code == 304
    d.docker("rm", unique, check=True)
    assert d.docker("ps", "-aq", check=True).stdout == before


def test_logs_rotation_and_options(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    d.docker("run", "--name", unique, "--log-opt", "max-size=2k", "--log-opt", "max-file=2",
             "busybox", "sh", "-c", "for i in $(seq 1 200); do echo line-$i; done; "
             "echo to-stderr >&2", check=True)
    log_path = d.docker("inspect", "-f", "{{.LogPath}}", unique,
                        check=True).stdout.decode().strip()
    assert os.path.exists(log_path) and os.path.exists(log_path + ".1")
    assert not os.path.exists(log_path + ".2")
    assert os.path.getsize(log_path) <= 2048
    with open(log_path) as f:
        rec = json.loads(f.readline())
    assert set(rec) == {"log", "stream", "time"}
    r = d.docker("logs", "--tail", "2", unique, check=True)
    assert r.stdout == b"line-200\n" and r.stderr == b"to-stderr\n"
    assert d.docker("logs", "--tail", "1", "-t", unique, check=True).stderr.startswith(b"20")
    d.docker("rm", unique, check=True)


def test_logs_follow(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    d.docker("run", "-d", "--name", unique, "busybox", "sh", "-c",
             "for i in 1 2 3; do echo $i; sleep 0.2; done", check=True)
    r = d.docker("logs", "-f", unique, check=True, timeout=15)
    assert r.stdout == b"1\n2\n3\n"
    d.docker("rm", unique, check=True)


def test_run_interactive_tty_under_tmux(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    session = unique
    out = f"{d.dir}/{unique}.out"
    cmd = (f"DOCKER_HOST={d.host} DOCKER_CONFIG={d.dir} {DOCKER} run -it --rm busybox sh; "
           f"echo EXITED $? > {out}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "90", "-y", "21", cmd],
                   check=True)
    try:
        wait_for(lambda: b"/ #" in tmux_pane(session))
        subprocess.run(["tmux", "send-keys", "-t", session, "stty size; tty", "Enter"], check=True)
        wait_for(lambda: b"21 90" in tmux_pane(session))
        wait_for(lambda: b"/dev/pts/0" in tmux_pane(session))  # the second line may lag
        subprocess.run(["tmux", "send-keys", "-t", session, "exit 6", "Enter"], check=True)
        wait_for(lambda: os.path.exists(out))
        wait_for(lambda: open(out).read().strip() == "EXITED 6")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)




def test_events_and_container_prune(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    env = {**os.environ, "DOCKER_HOST": d.host, "DOCKER_CONFIG": d.dir}
    watcher = subprocess.Popen(
        [DOCKER, "events", "--filter", f"label=ev={unique}", "--format",
         "{{.Action}} {{.Actor.Attributes.name}}"], stdout=subprocess.PIPE, env=env)
    try:
        time.sleep(0.5)
        d.docker("run", "--name", unique, "--label", f"ev={unique}", "busybox", "true",
                 check=True)
        d.docker("create", "--name", unique + "-b", "--label", f"ev={unique}", "busybox",
                 "true", check=True)
        r = d.docker("container", "prune", "-f", "--filter", f"label=ev={unique}", check=True)
        assert r.stdout.count(b"\n") >= 3  # header + the two ids
        time.sleep(0.3)
    finally:
        watcher.terminate()
    lines = watcher.communicate(timeout=10)[0].decode().splitlines()
    assert lines[:4] == [f"create {unique}", f"start {unique}", f"die {unique}",
                         f"create {unique}-b"]
    assert sorted(lines[4:]) == sorted([f"destroy {unique}", f"destroy {unique}-b"])
    assert d.docker("ps", "-aq", "--filter", f"label=ev={unique}").stdout == b""
    # Replay from the buffer (the CLI's --until has whole seconds; ask precisely)
    with d.api() as api:
        r2 = api.get("/events", params={"since": str(time.time() - 60), "until": str(time.time()),
                                        "filters": json.dumps({"container": [unique]})})
    actions = [json.loads(line)["Action"] for line in r2.text.splitlines()]
    assert actions == ["create", "start", "die", "destroy"]


def test_attach_and_detach_keys_under_tmux(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    d.docker("run", "-dit", "--name", unique, "busybox", "sh", check=True)
    out = f"{d.dir}/{unique}.attach"
    cmd = (f"DOCKER_HOST={d.host} DOCKER_CONFIG={d.dir} {DOCKER} attach {unique}; "
           f"echo DETACHED > {out}")
    subprocess.run(["tmux", "new-session", "-d", "-s", unique, "-x", "80", "-y", "20", cmd],
                   check=True)
    try:
        time.sleep(0.5)
        subprocess.run(["tmux", "send-keys", "-t", unique, "echo attached-$((40+2))", "Enter"],
                       check=True)
        wait_for(lambda: b"attached-42" in tmux_pane(unique))
        subprocess.run(["tmux", "send-keys", "-t", unique, "C-p", "C-q"], check=True)
        wait_for(lambda: os.path.exists(out))
        # detached, not stopped: the shell still runs and kept what we typed
        assert d.docker("inspect", "-f", "{{.State.Running}}", unique).stdout == b"true\n"
        assert b"attached-42" in d.docker("logs", unique, check=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", unique], capture_output=True)
        d.docker("rm", "-f", unique)


def test_logs_since_until(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    d.docker("run", "--name", unique, "busybox", "sh", "-c",
             "echo early; sleep 1.2; echo late", check=True)
    lines = d.docker("logs", "-t", unique, check=True).stdout.decode().splitlines()
    late_ts = lines[1].split()[0]
    assert d.docker("logs", "--since", late_ts, unique, check=True).stdout == b"late\n"
    assert d.docker("logs", "--until", late_ts[:19] + "Z", unique,
                    check=True).stdout == b"early\n"
    d.docker("rm", unique, check=True)


def test_start_attach_with_custom_detach_keys_under_tmux(shared_daemon: Daemon,
                                                         unique: str) -> None:
    d = shared_daemon
    d.docker("create", "-it", "--name", unique, "busybox", "sh", check=True)
    out = f"{d.dir}/{unique}.start"
    cmd = (f"DOCKER_HOST={d.host} DOCKER_CONFIG={d.dir} {DOCKER} start -ai "
           f"--detach-keys ctrl-x,y {unique}; echo DETACHED-$? > {out}")
    subprocess.run(["tmux", "new-session", "-d", "-s", unique, "-x", "80", "-y", "20", cmd],
                   check=True)
    try:
        wait_for(lambda: b"#" in tmux_pane(unique))
        subprocess.run(["tmux", "send-keys", "-t", unique, "echo started-$((40+3))", "Enter"],
                       check=True)
        wait_for(lambda: b"started-43" in tmux_pane(unique))
        # ctrl-p ctrl-q is not the sequence now: it reaches the shell
        subprocess.run(["tmux", "send-keys", "-t", unique, "C-p", "C-q"], check=True)
        time.sleep(0.3)
        assert not os.path.exists(out)
        subprocess.run(["tmux", "send-keys", "-t", unique, "C-x", "y"], check=True)
        wait_for(lambda: os.path.exists(out))
        with open(out) as f:
            assert f.read().strip() == "DETACHED-0"
        assert d.docker("inspect", "-f", "{{.State.Running}}", unique).stdout == b"true\n"
        # a malformed sequence is refused and names it
        with d.api() as api:
            r = api.post(f"/containers/{unique}/attach",
                         params={"stream": "1", "stdin": "1", "detachKeys": "ctrl-xx"})
        assert r.status_code == 400 and "ctrl-xx" in r.json()["message"], r.text
    finally:
        subprocess.run(["tmux", "kill-session", "-t", unique], capture_output=True)
        d.docker("rm", "-f", unique)


def test_rm_force_of_a_container_whose_program_just_exited(shared_daemon: Daemon,
                                                           unique: str) -> None:
    """The runtime may already see the init gone while the supervisor's exit
    report is still on its way: ``rm -f`` must not fail with "not running"."""
    d = shared_daemon
    for i in range(12):
        d.docker("run", "-d", "--name", f"{unique}-{i}", "busybox", "true", check=True)
        d.docker("rm", "-f", f"{unique}-{i}", check=True)
    assert unique not in d.docker("ps", "-a", check=True).stdout.decode()
