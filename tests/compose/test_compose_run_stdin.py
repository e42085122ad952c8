"""``compose run`` and ``compose exec`` stdin and tty, as docker compose's: ``-i`` (the
default) pipes our stdin through the attach and its end closes the container's stdin,
``-i=false`` gives none, ``-T``/``-t`` decide the tty (auto: one at a terminal) — the real
CLI against a private daemon, piped and under a real terminal (tmux)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from test_compose_up_cli import DOCKYARD, compose, daemon  # noqa: F401  (fixtures)

# isort: split
# (importable once test_compose_up_cli has put tests/engine on the path)
from daemon_helpers import tmux_pane, wait_for


def _piped(c: Any, data: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``dockyard compose … ARGS`` with ``data`` on its stdin (a pipe, not a terminal)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env["DOCKER_HOST"] = c.d.host
    return subprocess.run([DOCKYARD, "compose", "-f", str(c.dir / "compose.yaml"), "-p",
                           c.project, *args], input=data, env=env, capture_output=True,
                          text=True, timeout=90)


def test_run_pipes_stdin_and_exec_too(compose: Any) -> None:  # noqa: F811
    c = compose("run_stdin")
    p = c.project
    # stdin reaches the one-off, its end closes the container's stdin (cat ends)
    r = _piped(c, "hi\n", "run", "--rm", "-T", "app", "cat")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    # the exit code is the container's; stdin can be large and arrives whole
    data = "".join(f"line {i}\n" for i in range(20000))
    r = _piped(c, data, "run", "--rm", "-T", "app", "sh", "-c", "wc -l; exit 5")
    assert (r.returncode, r.stdout.strip()) == (5, "20000"), r.stderr
    # the service's own command, no -T: not a terminal here, so no tty (auto-detected)
    r = _piped(c, "x\ny\n", "run", "--name", f"{p}-auto", "app")
    assert (r.returncode, r.stdout) == (0, "x\ny\n"), r.stderr
    cfg = c.inspect(f"{p}-auto")["Config"]
    assert cfg["Tty"] is False and cfg["OpenStdin"] is True and cfg["StdinOnce"] is True

    # -i=false / --interactive=false: no stdin at all (cat sees its end at once)
    for i, flag in enumerate(("-i=false", "--interactive=false", "--no-interactive")):
        r = _piped(c, "never\n", "run", "-T", flag, "--name", f"{p}-closed{i}", "app", "cat")
        assert (r.returncode, r.stdout) == (0, ""), (flag, r.stderr)
        assert c.inspect(f"{p}-closed{i}")["Config"]["OpenStdin"] is False
    # -i=true is the default spelled out
    r = _piped(c, "yes\n", "run", "--rm", "-T", "-i=true", "app", "cat")
    assert r.stdout == "yes\n", r.stderr

    # bad values and contradictions are refused before anything is created
    before = set(c.ids())
    r = _piped(c, "", "run", "--rm", "--interactive=maybe", "app", "cat")
    assert r.returncode != 0 and "invalid value 'maybe' for --interactive: expected true " \
        "or false" in r.stderr, r.stderr
    r = _piped(c, "", "run", "--rm", "-t", "-T", "app", "cat")
    assert r.returncode != 0 and "--tty and --no-TTY can't be used together" in r.stderr
    assert set(c.ids()) == before

    # -t asks for a tty even when piped: the container has one
    r = _piped(c, "", "run", "--rm", "-t", "-i=false", "app", "sh", "-c",
               "[ -t 1 ] && echo has-a-tty")
    assert r.stdout.strip() == "has-a-tty", r.stderr

    # exec: stdin too, by default; -i=false: none
    c("up", "-d", "sleeper")
    r = _piped(c, "to-exec\n", "exec", "-T", "sleeper", "cat")
    assert (r.returncode, r.stdout) == (0, "to-exec\n"), r.stderr
    r = _piped(c, "dropped\n", "exec", "-T", "-i=false", "sleeper", "cat")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = _piped(c, "", "exec", "-T", "sleeper", "sh", "-c", "exit 4")
    assert r.returncode == 4


def test_run_interactive_shell_under_a_terminal(compose: Any, unique: str) -> None:  # noqa: F811
    c = compose("run_stdin")
    out = c.d.dir + f"/{unique}.out"
    cmd = (f"DOCKER_HOST={c.d.host} {DOCKYARD} compose -f {c.dir}/compose.yaml -p {c.project} "
           f"run --rm app sh; echo EXITED $? > {out}")
    subprocess.run(["tmux", "new-session", "-d", "-s", unique, "-x", "90", "-y", "21", cmd],
                   check=True)
    try:
        # a tty of the terminal's size, and an interactive shell on it
        wait_for(lambda: b"/ #" in tmux_pane(unique), timeout=60)
        subprocess.run(["tmux", "send-keys", "-t", unique, "stty size; tty; echo $((6*7))",
                        "Enter"], check=True)
        wait_for(lambda: b"21 90" in tmux_pane(unique))
        wait_for(lambda: b"/dev/pts/0" in tmux_pane(unique) and b"\n42" in tmux_pane(unique))
        subprocess.run(["tmux", "send-keys", "-t", unique, "exit 6", "Enter"], check=True)
        wait_for(lambda: os.path.exists(out) and open(out).read().strip() == "EXITED 6")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", unique], capture_output=True)
    assert not [n for n in c.ids() if "-app-run-" in n]  # --rm: gone
