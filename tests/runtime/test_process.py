"""The container process, observed from inside: user, env, cwd, limits, capabilities, tty."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from rt_helpers import CLI, Bundle, in_container

pytestmark = pytest.mark.needs_root


def status_field(status: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith(name + ":"))


def test_user_env_cwd_umask(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 0o027}
    bundle.process["env"] = ["PATH=/bin:/usr/bin", "GREETING=hello world"]
    bundle.process["cwd"] = "/tmp/work"
    r = in_container(runtime_cli, bundle, 'id -u; id -g; id -G; echo "$GREETING"; pwd; umask', unique)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1000", "1001", "1001 5 7", "hello world", "/tmp/work", "0027"]


def test_capabilities_and_no_new_privileges(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]
    bundle.process["capabilities"] = {"bounding": caps + ["CAP_SETUID"], "effective": caps,
                                      "permitted": caps, "inheritable": ["CAP_KILL"],
                                      "ambient": ["CAP_KILL"]}
    r = in_container(runtime_cli, bundle, "cat /proc/self/status", unique)
    assert r.returncode == 0, r.stderr
    bits = (1 << 0) | (1 << 5) | (1 << 13)
    st = r.stdout
    assert int(status_field(st, "CapBnd"), 16) == bits | (1 << 7)
    assert int(status_field(st, "CapEff"), 16) == bits
    assert int(status_field(st, "CapPrm"), 16) == bits
    assert int(status_field(st, "CapInh"), 16) == 1 << 5
    assert int(status_field(st, "CapAmb"), 16) == 1 << 5
    assert status_field(st, "NoNewPrivs") == "1"


def test_non_root_keeps_ambient_caps(cli: CLI, bundle: Bundle, unique: str) -> None:
    caps = ["CAP_NET_BIND_SERVICE"]
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted",
                                                        "inheritable", "ambient")}
    r = in_container(cli, bundle, "grep -E 'CapEff|CapAmb' /proc/self/status", unique)
    assert [int(line.split()[1], 16) for line in r.stdout.splitlines()] == [1 << 10, 1 << 10]


def test_rlimits_and_oom_score_adj(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                                 {"type": "RLIMIT_NPROC", "soft": 50, "hard": 60}]
    bundle.process["oomScoreAdj"] = 500
    r = in_container(runtime_cli, bundle, "ulimit -n; ulimit -Hn; ulimit -u; cat /proc/self/oom_score_adj",
                     unique)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["100", "200", "50", "500"]


def test_rlimit_above_host_hard_limit_is_a_clear_error(cli: CLI, bundle: Bundle, unique: str) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard * 4}]
    r = in_container(cli, bundle, "true", unique)
    assert r.returncode == 1
    assert "RLIMIT_NOFILE" in r.stderr and "CAP_SYS_RESOURCE" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert cli("list", "-q").stdout.split() == []  # nothing left behind


def test_exec_flags(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["sleep", "30"]
    bundle.process["env"] = ["PATH=/bin", "A=1"]
    assert runtime_cli.create(unique, bundle).returncode == 0
    assert runtime_cli("start", unique).returncode == 0
    r = runtime_cli("exec", "-e", "B=2", "--cwd", "/tmp", "-u", "65534:65534", unique,
                    "sh", "-c", "echo $A $B; pwd; id -u; echo $$; exit 3")
    assert r.returncode == 3, r.stderr
    lines = r.stdout.split()
    assert lines[:4] == ["1", "2", "/tmp", "65534"] and int(lines[4]) > 1
    missing = runtime_cli("exec", unique, "no-such-binary")
    assert missing.returncode != 0 and "no-such-binary" in missing.stderr
    ps = runtime_cli("ps", "--format", "json", unique)
    assert ps.stdout.strip() == f"[{runtime_cli.state(unique)['pid']}]"


def _console_server(path: Path) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    srv.settimeout(10)
    return srv


def _recv_master(srv: socket.socket) -> int:
    conn, _ = srv.accept()
    with conn:
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
    return fds[0]


def _read_all(fd: int, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_terminal_through_console_socket(runtime_cli: CLI, bundle: Bundle, unique: str,
                                         short_tmp: Path) -> None:
    sock_path = short_tmp / "console.sock"
    srv = _console_server(sock_path)
    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 33, "width": 101}
    bundle.process["args"] = ["sh", "-c", "tty; stty size; test -t 0 && echo TTY0; ls -l /dev/console | wc -l"]
    r = runtime_cli.create(unique, bundle, "--console-socket", str(sock_path))
    assert r.returncode == 0, r.stderr
    master = _recv_master(srv)
    srv.close()
    assert runtime_cli("start", unique).returncode == 0
    out = _read_all(master).decode().replace("\r", "").split("\n")
    os.close(master)
    assert out[0].startswith("/dev/pts/")
    assert out[1:4] == ["33 101", "TTY0", "1"]


def test_terminal_without_console_socket_is_refused(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["terminal"] = True
    r = runtime_cli.create(unique, bundle)
    assert r.returncode != 0 and "console" in r.stderr


def test_run_with_terminal_in_foreground(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["terminal"] = True
    bundle.process["args"] = ["sh", "-c", "tty; exit 4"]
    bundle.write()
    r = subprocess.run([cli.binary, "--root", str(cli.root), "run", "-b", str(bundle.path), unique],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert r.returncode == 4, r.stderr
    assert r.stdout.startswith("/dev/pts/")


def test_preserve_fds(runtime_cli: CLI, bundle: Bundle, unique: str, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.write_text("passed in\n")
    bundle.process["args"] = ["sh", "-c", "cat <&3; ls /proc/self/fd | wc -l"]
    bundle.write()
    # the shell puts the file on fd 3 of the runtime, which hands it on
    r = subprocess.run(["sh", "-c", f'exec "$0" "$@" 3<{extra}', runtime_cli.binary,
                        "--root", str(runtime_cli.root), "run", "--preserve-fds", "1",
                        "-b", str(bundle.path), unique], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0] == "passed in"
    assert r.stdout.split()[-1] == "5"  # 0, 1, 2, 3 and ls's directory


def test_exec_with_tty(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["sleep", "30"]
    assert cli.create(unique, bundle).returncode == 0
    r = subprocess.run([cli.binary, "--root", str(cli.root), "exec", "-t", unique, "sh", "-c", "tty; exit 5"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert r.returncode == 5, r.stderr
    assert r.stdout.startswith("/dev/pts/")
