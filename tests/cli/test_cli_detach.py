"""Detach keys in the dockyard CLI, as docker's: ``run -it``, ``attach``, ``start -ai`` end on
ctrl-p,ctrl-q (or ``--detach-keys``, or the config file's ``detachKeys``) with docker's exit
code and message while the container runs on and can be attached again — under a real
terminal (tmux), against a private daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
from daemon_helpers import DOCKYARD, Daemon, tmux_pane, wait_for

pytestmark = pytest.mark.needs_root


@pytest.fixture
def config_dir(cli_daemon: Daemon, unique: str) -> Iterator[str]:
    """A private $DOCKER_CONFIG (never the runner's ~/.docker)."""
    d = os.path.join(cli_daemon.dir, f"{unique}-cfg")
    os.makedirs(d)
    yield d


def dy(d: Daemon, cfg: str, *args: str,
       input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCKER_HOST": d.host, "DOCKER_CONFIG": cfg}
    return subprocess.run([DOCKYARD, *args], input=input, capture_output=True, env=env,
                          timeout=60)


class Term:
    """``dockyard ARGS`` in a tmux terminal; its exit code and stderr land in files."""

    def __init__(self, d: Daemon, cfg: str, name: str, args: str) -> None:
        self.name = name
        self.rc = os.path.join(cfg, f"{name}.rc")
        self.err = os.path.join(cfg, f"{name}.err")
        cmd = (f"DOCKER_HOST={d.host} DOCKER_CONFIG={cfg} {DOCKYARD} {args} 2>{self.err}; "
               f"echo $? > {self.rc}; sleep 60")  # the pane stays to be read
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "20", cmd],
                       check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, line: str) -> None:
        self.keys(line, "Enter")

    def pane(self) -> bytes:
        return tmux_pane(self.name)

    def exit_code(self) -> int:
        try:
            wait_for(lambda: os.path.exists(self.rc) and open(self.rc).read().strip() != "")
        except AssertionError:
            raise AssertionError(f"{self.name} did not end: {self.pane()!r}") from None
        return int(open(self.rc).read())

    def ended(self) -> bool:
        return os.path.exists(self.rc)

    def stderr(self) -> str:
        with open(self.err) as f:
            return f.read()

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def state(d: Daemon, ref: str) -> dict[str, object] | None:
    with d.api() as api:
        r = api.get(f"/containers/{ref}/json")
    return r.json()["State"] if r.status_code == 200 else None  # type: ignore[no-any-return]


def test_run_it_detaches_and_attach_joins_again(cli_daemon: Daemon, config_dir: str,
                                                unique: str) -> None:
    d = cli_daemon
    t = Term(d, config_dir, unique, f"run -it --rm --name {unique} busybox sh")
    try:
        wait_for(lambda: b"/ #" in t.pane())
        t.type("echo one-$((20+1))")
        wait_for(lambda: b"one-21" in t.pane())
        t.keys("C-p", "C-q")
        # docker run: 0 and nothing said; the --rm container is left running
        assert t.exit_code() == 0
        assert t.stderr() == ""
        assert b"escape" not in t.pane()
        st = state(d, unique)
        assert st is not None and st["Running"] is True
    finally:
        t.close()
    # attach joins the same shell (it kept its state); exit ends attach with its code
    a = Term(d, config_dir, unique + "a", f"attach {unique}")
    try:
        wait_for(lambda: b"/ #" in a.pane())  # redrawn on attach
        a.type("echo two-$((40+2)); exit 3")
        wait_for(lambda: b"two-42" in a.pane())
        assert a.exit_code() == 3
        wait_for(lambda: state(d, unique) is None)  # --rm: gone once it exited
    finally:
        a.close()
        dy(d, config_dir, "rm", "-f", unique)


def test_attach_and_start_with_custom_keys(cli_daemon: Daemon, config_dir: str,
                                           unique: str) -> None:
    d = cli_daemon
    with open(os.path.join(config_dir, "config.json"), "w") as f:
        json.dump({"detachKeys": "ctrl-x,y"}, f)
    assert dy(d, config_dir, "create", "-it", "--name", unique, "busybox", "sh").returncode == 0
    # start -ai, keys from the config file: ctrl-p,ctrl-q is plain input now
    s = Term(d, config_dir, unique, f"start -ai {unique}")
    try:
        wait_for(lambda: b"/ #" in s.pane())
        s.keys("C-p", "C-q")
        s.type("echo start-$((6*7))")
        wait_for(lambda: b"start-42" in s.pane())
        assert not s.ended()
        s.keys("C-x", "y")
        assert s.exit_code() == 0  # docker start -ai: 0, silent
        assert s.stderr() == ""
    finally:
        s.close()
    st = state(d, unique)
    assert st is not None and st["Running"] is True
    # attach, --detach-keys over the config file's; docker's message and 1 on the detach
    a = Term(d, config_dir, unique + "a", f"attach --detach-keys ctrl-a,z {unique}")
    try:
        wait_for(lambda: b"/ #" in a.pane())
        a.keys("C-x", "y", "BSpace")  # the config file's keys are plain input here
        a.type("echo attach-$((50+5))")
        wait_for(lambda: b"attach-55" in a.pane())
        a.keys("C-a", "z")
        assert a.exit_code() == 1
        assert a.stderr() == "read escape sequence\n"
    finally:
        a.close()
    st = state(d, unique)
    assert st is not None and st["Running"] is True
    # what was typed reached the one shell, across both sessions
    logs = dy(d, config_dir, "logs", unique).stdout
    assert b"start-42" in logs and b"attach-55" in logs
    dy(d, config_dir, "rm", "-f", unique)


def test_bad_detach_keys_and_no_tty(cli_daemon: Daemon, config_dir: str, unique: str) -> None:
    d = cli_daemon
    # a bad sequence is refused before anything is created, naming the key
    r = dy(d, config_dir, "run", "-it", "--name", unique, "--detach-keys", "ctrl-p,ctrl-pq",
           "busybox", "sh")
    assert r.returncode == 125
    assert b"invalid detach keys 'ctrl-p,ctrl-pq': unknown key 'ctrl-pq'" in r.stderr
    assert state(d, unique) is None
    assert dy(d, config_dir, "run", "-d", "-i", "--name", unique, "busybox", "sh").returncode == 0
    try:
        r = dy(d, config_dir, "attach", "--detach-keys", "ctrl-", unique)
        assert r.returncode == 1 and b"unknown key 'ctrl-'" in r.stderr
        r = dy(d, config_dir, "attach", "--sig-proxy=maybe", unique)
        assert r.returncode == 2
        assert b"invalid value 'maybe' for --sig-proxy: expected true or false" in r.stderr
        # the config file's value is checked the same way, and names the file
        with open(os.path.join(config_dir, "config.json"), "w") as f:
            json.dump({"detachKeys": 7}, f)
        r = dy(d, config_dir, "start", "-a", unique)
        assert r.returncode == 1
        assert f"{config_dir}/config.json: detachKeys: expected a string".encode() in r.stderr
    finally:
        dy(d, config_dir, "rm", "-f", unique)
    # without a tty the keys are data, as docker's: they reach the container
    os.remove(os.path.join(config_dir, "config.json"))
    r = dy(d, config_dir, "run", "-i", "--rm", "busybox", "od", "-An", "-tx1",
           input=b"\x10\x11\n")
    assert (r.returncode, r.stdout.split()) == (0, [b"10", b"11", b"0a"]), r.stderr


_TRAPS = ("trap 'echo got-int; exit 7' INT; trap 'echo got-term; exit 8' TERM; "
          "while :; do echo tick; sleep 0.1; done")


def _popen(d: Daemon, cfg: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DOCKER_HOST": d.host, "DOCKER_CONFIG": cfg}
    return subprocess.Popen([DOCKYARD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env)


def _ticking(p: subprocess.Popen[bytes]) -> None:
    """Wait (bounded) until the container's output reaches us through ``p``."""
    assert p.stdout is not None
    fd = p.stdout.fileno()
    os.set_blocking(fd, False)
    seen = bytearray()

    def more() -> bool:
        try:
            seen.extend(os.read(fd, 4096) or b"")
        except BlockingIOError:
            pass
        return b"tick\n" in seen

    wait_for(more)
    os.set_blocking(fd, True)


def test_sig_proxy_passes_signals_and_can_be_off(cli_daemon: Daemon, config_dir: str,
                                                 unique: str) -> None:
    d = cli_daemon
    names = [f"{unique}-{i}" for i in range(3)]
    try:
        # run (--sig-proxy is the default): our SIGINT reaches the container's trap
        p = _popen(d, config_dir, "run", "--name", names[0], "busybox", "sh", "-c", _TRAPS)
        _ticking(p)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 7 and out.endswith(b"got-int\n")
        # --sig-proxy=false: the signal is ours alone (it ends us), the container runs on
        p = _popen(d, config_dir, "run", "--sig-proxy=false", "--name", names[1], "busybox",
                   "sh", "-c", _TRAPS)
        _ticking(p)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)
        assert p.returncode != 0
        st = state(d, names[1])
        assert st is not None and st["Running"] is True
        assert b"got-int" not in dy(d, config_dir, "logs", names[1]).stdout
        # attach passes them on too (no tty)
        assert dy(d, config_dir, "run", "-d", "--name", names[2], "busybox", "sh", "-c",
                  _TRAPS).returncode == 0
        p = _popen(d, config_dir, "attach", names[2])
        _ticking(p)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 8 and out.endswith(b"got-term\n")
    finally:
        for n in names:
            dy(d, config_dir, "rm", "-f", n)


def test_keys_parse_and_match_as_the_engine_does() -> None:
    from dockyard.client.detach import DetachMatcher, parse_detach_keys
    from dockyard.client.errors import InvalidDetachKeys
    from dockyard.engine.attach import parse_detach_keys as engine_parse

    for spec in ("ctrl-p,ctrl-q", "a", "ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", "ctrl-Z,x",
                 "e,x,i,t"):
        assert parse_detach_keys(spec) == engine_parse(spec), spec
    assert parse_detach_keys("ctrl-a,z") == b"\x01z"
    for bad in ("", "ctrl-", "ctrl-pq", "ctrl-1", "ab", "ctrl-p,,ctrl-q", "ctrl-é"):
        with pytest.raises(InvalidDetachKeys, match="invalid detach keys"):
            parse_detach_keys(bad)

    # matched as the engine matches: across chunks; a byte that breaks a partial match
    # (even the first key again) starts no new one
    cases = {(b"\x10\x11",): True, (b"ab\x10", b"\x11rest"): True, (b"\x10\x10\x11",): False,
             (b"\x10x\x11",): False, (b"\x11\x10",): False, (b"\x10", b"", b"\x11"): True,
             (b"plain",): False, (b"\x10\x10\x10\x11",): True, (b"\x10q", b"\x10\x11"): True}
    for chunks, detaches in cases.items():
        m = DetachMatcher(b"\x10\x11")
        assert any(m.feed(c) >= 0 for c in chunks) == detaches, chunks
    m = DetachMatcher(b"\x10\x11")
    assert (m.feed(b"ab\x10"), m.feed(b"\x11rest")) == (-1, 1)  # the keys end there


def test_start_attach_exit_code_of_a_rm_container(cli_daemon: Daemon, config_dir: str,
                                                  unique: str) -> None:
    d = cli_daemon
    assert dy(d, config_dir, "create", "--rm", "--name", unique, "busybox", "sh", "-c",
              "echo bye; exit 4").returncode == 0
    r = dy(d, config_dir, "start", "-a", unique)
    assert (r.returncode, r.stdout) == (4, b"bye\n"), r.stderr
    assert state(d, unique) is None  # removed, and its exit code was still ours


def _execs(d: Daemon, ref: str) -> list[str]:
    with d.api() as api:
        r = api.get(f"/containers/{ref}/top")
    return [p[-1] for p in r.json()["Processes"]]


@pytest.mark.parametrize("client", ["dockyard", "docker"])
def test_exec_it_detaches_and_the_process_goes_on(cli_daemon: Daemon, config_dir: str,
                                                  unique: str, client: str) -> None:
    """Exec sessions detach too (the engine's exec start, as Docker's): both CLIs end with
    docker exec's "read escape sequence" and 1, and the exec'd shell keeps running; bad keys
    are refused (before anything runs)."""
    d = cli_daemon
    name = f"{unique}{client[:2]}"
    dy(d, config_dir, "run", "-dit", "--name", name, "busybox", "sh")
    binary = DOCKYARD if client == "dockyard" else "/usr/local/bin/docker"
    try:
        cmd = (f"DOCKER_HOST={d.host} DOCKER_CONFIG={config_dir} {binary} exec -it {name} sh "
               f"2>{config_dir}/{name}.err; echo $? > {config_dir}/{name}.rc; sleep 60")
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "20", cmd],
                       check=True)
        t = Term.__new__(Term)
        t.name, t.rc, t.err = name, f"{config_dir}/{name}.rc", f"{config_dir}/{name}.err"
        try:
            wait_for(lambda: b"/ #" in t.pane())
            t.type("echo in-exec-$((2+3))")
            wait_for(lambda: b"in-exec-5" in t.pane())
            assert len(_execs(d, name)) == 2  # the container's sh and the exec's
            t.keys("C-p", "C-q")
            assert t.exit_code() == 1
            assert "read escape sequence" in t.stderr() + t.pane().decode(errors="replace")
            assert len(_execs(d, name)) == 2  # detached, not ended
        finally:
            t.close()
        r = subprocess.run([binary, "exec", "--detach-keys", "ctrl-xx", name, "true"],
                           env={**os.environ, "DOCKER_HOST": d.host, "DOCKER_CONFIG": config_dir},
                           capture_output=True, timeout=30)
        assert r.returncode != 0 and b"ctrl-xx" in r.stderr, r
    finally:
        dy(d, config_dir, "rm", "-f", name)
