"""The C supervisor in a running daemon: it is what supervises, it is small, it does the job.

Driven with the real docker CLI (and the Engine API for resize) against a
private daemon started with ``--supervisor c``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from daemon_helpers import DOCKYARD, Daemon, new_daemon

from dockyard.engine.logfile import JsonFileWriter

pytestmark = pytest.mark.needs_root


@pytest.fixture
def cd_own() -> Iterator[Daemon]:
    """A daemon of its own (tests that kill it)."""
    d = new_daemon(["--bridge", "none", "--supervisor", "c"])
    try:
        yield d
    finally:
        d.cleanup()


def _cid(d: Daemon, name: str) -> str:
    return d.docker("inspect", "--format", "{{.Id}}", name, check=True).stdout.decode().strip()


def _supervisor(d: Daemon, name: str) -> tuple[int, int]:
    """(supervisor pid, init pid) from the supervisor's pid file."""
    path = os.path.join(d.run_root, "c", _cid(d, name)[:12], "supervisor.pid")
    with open(path) as f:
        sup, init = f.read().split()
    return int(sup), int(init)


def _wait_for(what: str, check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _is_c(d: Daemon, pid: int) -> bool:
    exe = os.readlink(f"/proc/{pid}/exe")
    return exe.startswith(os.path.join(d.root, "shim", "dockyard-shim-"))


def _took_over(d: Daemon, name: str) -> bool:
    """The C shim says so in supervisor.log when it starts (checkable after the exit)."""
    path = os.path.join(d.run_root, "c", _cid(d, name)[:12], "supervisor.log")
    with open(path) as f:
        return "dockyard-shim: took over" in f.read()


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise AssertionError("no Pss in smaps_rollup")


def test_supervisor_of_a_running_container_is_the_c_binary_under_1mib(cd: Daemon,
                                                                       unique: str) -> None:
    name = f"{unique}-small"
    cd.docker("run", "-d", "--name", name, "busybox", "sleep", "300", check=True)
    try:
        sup, init = _supervisor(cd, name)
        _wait_for("the handoff to the C shim", lambda: _is_c(cd, sup))
        with open(f"/proc/{sup}/comm") as f:
            assert f.read().strip() == "dy-supervisor"
        assert _ppid(init) == sup  # the same process: still the init's parent
        pss = _pss_kib(sup)
        assert pss < 1024, f"supervisor PSS {pss} KiB"
        state = json.loads(cd.docker("inspect", "--format", "{{json .State}}", name,
                                     check=True).stdout)
        assert state["Running"] and state["Pid"] == init
    finally:
        cd.docker("rm", "-f", name)


def test_log_file_bytes_match_the_python_writer(cd: Daemon, unique: str) -> None:
    name = f"{unique}-fmt"
    script = "; ".join([
        "sleep 0.5", r"printf 'plain\n'", r"""printf 'tab\there "q" back\\slash\n' >&2""",
        r"printf 'caf\303\251 \342\202\254\n'", r"printf 'bad \377\376 \300\n'",
        r"printf 'ctl \033[1m\001\n' >&2", "printf 'no newline'"])
    cd.docker("run", "--name", name, "busybox", "sh", "-c", script, check=True)
    assert _took_over(cd, name)
    sup_log = cd.docker("inspect", "--format", "{{.LogPath}}", name, check=True)
    with open(sup_log.stdout.decode().strip(), "rb") as f:
        lines = f.read().splitlines(keepends=True)
    got = {(json.loads(x)["stream"], x.split(b',"time":')[0]) for x in lines}
    # What the Python writer makes of the same bytes, stream by stream.
    expect_path = os.path.join(cd.dir, f"{unique}-expect.log")
    w = JsonFileWriter(expect_path, -1, 1)
    w.write("stdout", b"plain\ncaf\xc3\xa9 \xe2\x82\xac\nbad \xff\xfe \xc0\nno newline")
    w.write("stderr", b'tab\there "q" back\\slash\nctl \x1b[1m\x01\n')
    w.close()
    with open(expect_path, "rb") as f:
        want = {(json.loads(x)["stream"], x.split(b',"time":')[0]) for x in f}
    assert got == want
    for x in lines:
        assert json.loads(x)["time"].endswith("Z") and len(json.loads(x)["time"]) == 30
    out = cd.docker("logs", name, check=True)
    assert out.stdout == b"plain\ncaf\xc3\xa9 \xe2\x82\xac\nbad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\nno newline"
    assert out.stderr == b'tab\there "q" back\\slash\nctl \x1b[1m\x01\n'
    cd.docker("rm", name)


def test_fast_writer_long_lines_and_rotation(cd: Daemon, unique: str) -> None:
    name = f"{unique}-fast"
    # 100 000-byte lines, a 70 000-byte line without newline, and 60 000 short lines
    # as fast as busybox writes them; the log rotates at 200 KiB over 3 files.
    script = ("sleep 0.5; for i in 1 2 3; do head -c 100000 /dev/zero | tr '\\0' a; echo; done; "
              "head -c 70000 /dev/zero | tr '\\0' b >&2; seq 1 60000; echo end")
    cd.docker("run", "--name", name, "--log-opt", "max-size=200k", "--log-opt", "max-file=3",
              "busybox", "sh", "-c", script, check=True, timeout=120)
    assert _took_over(cd, name)
    path = cd.docker("inspect", "--format", "{{.LogPath}}", name,
                     check=True).stdout.decode().strip()
    sizes = [os.path.getsize(p) for p in (path, path + ".1", path + ".2")]
    assert not os.path.exists(path + ".3")
    assert all(s <= 200 * 1024 for s in sizes), sizes
    out = cd.docker("logs", name, check=True, timeout=60).stdout.decode().splitlines()
    # what survived rotation is the tail, unbroken and in order
    assert out[-1] == "end" and out[-2] == "60000"
    tail = [int(x) for x in out[-30000:-1]]
    assert tail == list(range(60000 - len(tail) + 1, 60001))
    cd.docker("rm", name)


def test_long_line_and_partial_line_survive_whole(cd: Daemon, unique: str) -> None:
    name = f"{unique}-long"
    script = "sleep 0.5; head -c 150000 /dev/zero | tr '\\0' q; echo; printf 'last words'"
    cd.docker("run", "--name", name, "busybox", "sh", "-c", script, check=True)
    assert _took_over(cd, name)
    out = cd.docker("logs", name, check=True).stdout
    assert out == b"q" * 150000 + b"\nlast words"
    cd.docker("rm", name)


def test_stdin_through_a_started_container(cd: Daemon, unique: str) -> None:
    data = os.urandom(300_000).hex().encode() + b"\n"  # 600 KB: more than a pipe holds
    name = f"{unique}-stdin"
    # cat starts late: the stdin the daemon sends at once piles up in the
    # Python supervisor first, and what it still holds is carried over
    r = cd.docker("run", "--name", name, "-i", "busybox", "sh", "-c", "sleep 0.5; cat; echo done",
                  input=data, check=True, timeout=60)
    # (not `==` on 600 KB: pytest's diff of two such strings takes minutes)
    want = data + b"done\n"
    assert r.stdout == want, _first_difference(r.stdout, want)
    assert _took_over(cd, name)
    cd.docker("rm", name)


def _first_difference(got: bytes, want: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(got, want, strict=False)) if x != y),
             min(len(got), len(want)))
    return (f"{len(got)} bytes, want {len(want)}; first difference at {n}: "
            f"{got[max(0, n - 20):n + 40]!r} vs {want[max(0, n - 20):n + 40]!r}")


def test_log_driver_none_is_handed_over_too(cd: Daemon, unique: str) -> None:
    name = f"{unique}-none"
    r = cd.docker("run", "--name", name, "-i", "--log-driver", "none", "busybox", "sh", "-c",
                  "sleep 0.5; cat; echo bye >&2", input=b"through attach\n", check=True)
    assert (r.stdout, r.stderr) == (b"through attach\n", b"bye\n")
    assert _took_over(cd, name)
    cdir = os.path.join(cd.root, "containers", _cid(cd, name))
    assert not [f for f in os.listdir(cdir) if f.endswith("-json.log")]
    cd.docker("rm", name)


def test_exec_stdin_exit_codes_and_tty(cd: Daemon, unique: str) -> None:
    name = f"{unique}-exec"
    cd.docker("run", "-d", "--name", name, "busybox", "sleep", "300", check=True)
    try:
        sup, _ = _supervisor(cd, name)
        _wait_for("the handoff to the C shim", lambda: _is_c(cd, sup))
        r = cd.docker("exec", name, "sh", "-c", "echo out; echo err >&2; exit 5")
        assert (r.returncode, r.stdout, r.stderr) == (5, b"out\n", b"err\n")
        r = cd.docker("exec", "-i", name, "sh", "-c", "wc -c", input=b"x" * 100_000, check=True)
        assert r.stdout.strip() == b"100000"
        r = cd.docker("exec", "-t", name, "sh", "-c", "tty; stty size", check=True)
        assert r.stdout.startswith(b"/dev/pts/")
        r = cd.docker("exec", name, "/no/such/binary")
        assert r.returncode in (126, 127), r
        # several at once
        procs = [subprocess.Popen(
            ["/usr/local/bin/docker", "exec", name, "sh", "-c", f"sleep 0.3; echo {i}"],
            stdout=subprocess.PIPE, env={**os.environ, "DOCKER_HOST": cd.host,
                                         "DOCKER_CONFIG": cd.dir}) for i in range(4)]
        outs = [p.communicate(timeout=60)[0] for p in procs]
        assert outs == [f"{i}\n".encode() for i in range(4)]
        assert _is_c(cd, sup) and _supervisor(cd, name)[0] == sup
    finally:
        cd.docker("rm", "-f", name)


def test_tty_output_and_resize(cd: Daemon, unique: str) -> None:
    name = f"{unique}-tty"
    cd.docker("run", "-d", "-t", "--name", name, "busybox", "sh", "-c",
              "while true; do stty size; sleep 0.2; done", check=True)
    try:
        sup, _ = _supervisor(cd, name)
        _wait_for("the handoff to the C shim", lambda: _is_c(cd, sup))
        with cd.api() as api:
            api.post(f"/containers/{name}/resize", params={"h": 33, "w": 101}).raise_for_status()
        _wait_for("the new size in the log",
                  lambda: b"33 101\r\n" in cd.docker("logs", name).stdout)
        # an exec's own terminal, resized while it runs
        client = docker.APIClient(base_url=cd.host, version="auto", timeout=60)
        try:
            ex = client.exec_create(name, ["sh", "-c", "while true; do stty size; sleep 0.1; done"],
                                    tty=True)
            out = client.exec_start(ex["Id"], tty=True, stream=True)
            seen = next(out)
            client.exec_resize(ex["Id"], height=41, width=123)
            for chunk in out:
                seen += chunk
                if b"41 123" in seen:
                    break
            assert b"41 123\r\n" in seen
        finally:
            client.close()
    finally:
        cd.docker("rm", "-f", name)


def test_kill9_daemon_then_reconnect_to_the_c_shim(cd_own: Daemon, unique: str) -> None:
    d = cd_own
    tick, short = f"{unique}-tick", f"{unique}-short"
    d.docker("run", "-d", "--name", tick, "busybox", "sh", "-c",
             "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done", check=True)
    d.docker("run", "-d", "--name", short, "busybox", "sh", "-c", "sleep 1.5; exit 7",
             check=True)
    sup, init = _supervisor(d, tick)
    _wait_for("the handoff to the C shim", lambda: _is_c(d, sup))
    short_sup, _ = _supervisor(d, short)
    _wait_for("the handoff to the C shim", lambda: _is_c(d, short_sup))
    d.kill9()
    time.sleep(2.0)  # the short one exits while no daemon runs
    os.kill(init, 0)
    d.start()
    st = json.loads(d.docker("inspect", "--format", "{{json .State}}", short,
                             check=True).stdout)
    assert st["Status"] == "exited" and st["ExitCode"] == 7
    assert _is_c(d, sup) and _ppid(init) == sup
    before = d.docker("logs", tick, check=True).stdout.decode().splitlines()
    assert len(before) >= 15
    _wait_for("more ticks", lambda: len(d.docker("logs", tick).stdout.splitlines())
              > len(before))
    # the new connection carries exec, its output and its exit code
    r = d.docker("exec", tick, "sh", "-c", "echo again; exit 4")
    assert (r.returncode, r.stdout) == (4, b"again\n")
    # and a second kill -9 while an attach follows the output
    d.kill9()
    d.start()
    follow = subprocess.Popen(["/usr/local/bin/docker", "logs", "-f", "--tail", "0", tick],
                              stdout=subprocess.PIPE,
                              env={**os.environ, "DOCKER_HOST": d.host, "DOCKER_CONFIG": d.dir})
    try:
        time.sleep(1.0)
        d.docker("kill", tick, check=True)
        out, _ = follow.communicate(timeout=30)
    finally:
        follow.kill()
    assert out.startswith(b"tick ")
    assert d.docker("wait", tick, check=True).stdout.strip() == b"137"
    with open(os.path.join(d.run_root, "c", _cid(d, tick)[:12], "exit.json")) as f:
        rec = json.load(f)
    assert rec["ExitCode"] == 137 and rec["Pid"] == init
    _wait_for("the supervisor to exit", lambda: _gone(sup))


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: who reaps it depends on the host's pid 1)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_local_log_driver_and_python_mode_keep_the_python_supervisor(cd: Daemon,
                                                                      unique: str) -> None:
    name = f"{unique}-local"
    cd.docker("run", "-d", "--name", name, "--log-driver", "local", "busybox", "sh", "-c",
              "echo via local; sleep 300", check=True)
    try:
        sup, _ = _supervisor(cd, name)
        _wait_for("the output", lambda: cd.docker("logs", name).stdout == b"via local\n")
        assert not _is_c(cd, sup)
        assert "python" in os.path.basename(os.readlink(f"/proc/{sup}/exe"))
        log = os.path.join(cd.run_root, "c", _cid(cd, name)[:12], "supervisor.log")
        with open(log) as f:
            assert "does not write the 'local' log driver" in f.read()
    finally:
        cd.docker("rm", "-f", name)


def test_python_mode_keeps_python_supervisors(unique: str) -> None:
    d = new_daemon(["--bridge", "none", "--supervisor", "python"])
    try:
        name = f"{unique}-py"
        d.docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo hi; sleep 300",
                 check=True)
        sup, _ = _supervisor(d, name)
        _wait_for("the output", lambda: d.docker("logs", name).stdout == b"hi\n")
        assert "python" in os.path.basename(os.readlink(f"/proc/{sup}/exe"))
        assert not _took_over(d, name)
        assert not os.path.exists(os.path.join(d.root, "shim"))  # nothing built either
        d.docker("rm", "-f", name, check=True)
    finally:
        d.cleanup()


def test_supervisor_flag_rejects_unknown_values(tmp_path: Path) -> None:
    root = tmp_path / "root"
    r = subprocess.run([DOCKYARD, "daemon", "--root", str(root), "--supervisor", "go"],
                       capture_output=True, timeout=60)
    assert r.returncode == 2, r
    assert b"--supervisor" in r.stderr and b"'go'" in r.stderr
    assert not root.exists()
