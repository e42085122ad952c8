"""``dockyard compose run`` at a terminal (tmux) ends on the detach keys as docker compose's
``run`` does: 0, nothing said, the one-off left running (``--rm``'s removed by the engine
once it exits) and joinable again with ``dockyard attach``; the keys are the docker CLI
config file's ``detachKeys`` when it has them (docker compose has no flag for them)."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from test_compose_up_cli import DOCKYARD, compose, daemon  # noqa: F401  (fixtures)

# isort: split
# (importable once test_compose_up_cli has put tests/engine on the path)
from daemon_helpers import tmux_pane, wait_for


def _term(c: Any, cfg: str, name: str, args: str) -> tuple[str, str]:
    """``dockyard ARGS`` in a tmux terminal; the files its exit code and stderr land in."""
    rc, err = f"{cfg}/{name}.rc", f"{cfg}/{name}.err"
    cmd = (f"DOCKER_HOST={c.d.host} DOCKER_CONFIG={cfg} {DOCKYARD} {args} 2>{err}; "
           f"echo $? > {rc}; sleep 60")  # the pane stays to be read
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "20", cmd],
                   check=True)
    return rc, err


def _code(name: str, rc: str) -> int:
    try:
        wait_for(lambda: os.path.exists(rc) and open(rc).read().strip() != "")
    except AssertionError:
        raise AssertionError(f"{name} did not end: {tmux_pane(name)!r}") from None
    return int(open(rc).read())


def _keys(name: str, *keys: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", name, *keys], check=True)


def _kill(name: str) -> None:
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_run_detaches_leaves_the_oneoff_running(compose: Any, unique: str) -> None:  # noqa: F811
    c = compose("run_detach")
    p = c.project
    cfg = f"{c.d.dir}/{unique}-cfg"  # a private $DOCKER_CONFIG, never the runner's
    os.makedirs(cfg)
    run = f"compose -f {c.dir}/compose.yaml -p {p} run"
    oneoffs: list[str] = []
    try:
        # --rm, the default keys
        name = unique + "r"
        rc, err = _term(c, cfg, name, f"{run} --rm app")
        try:
            wait_for(lambda: b"/ #" in tmux_pane(name), timeout=60)
            _keys(name, "echo run-$((30+3))", "Enter")
            wait_for(lambda: b"run-33" in tmux_pane(name))
            _keys(name, "C-p", "C-q")
            assert _code(name, rc) == 0
            assert "escape" not in open(err).read() and b"escape" not in tmux_pane(name)
        finally:
            _kill(name)
        oneoffs = [n for n in c.ids() if n.startswith(f"{p}-app-run-")]
        assert len(oneoffs) == 1
        first = c.inspect(oneoffs[0])
        assert first["State"]["Running"] is True
        assert first["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"
        assert first["HostConfig"]["AutoRemove"] is True

        # the config file's detachKeys: ctrl-p,ctrl-q is plain input then
        with open(f"{cfg}/config.json", "w") as f:
            json.dump({"detachKeys": "ctrl-x,y"}, f)
        name = unique + "k"
        rc, err = _term(c, cfg, name, f"{run} --name {p}-kept app")
        oneoffs.append(f"{p}-kept")
        try:
            wait_for(lambda: b"/ #" in tmux_pane(name), timeout=60)
            _keys(name, "C-p", "C-q")
            _keys(name, "echo kept-$((40+4))", "Enter")
            wait_for(lambda: b"kept-44" in tmux_pane(name))
            assert not os.path.exists(rc)
            _keys(name, "C-x", "y")
            assert _code(name, rc) == 0
        finally:
            _kill(name)
        assert c.inspect(f"{p}-kept")["State"]["Running"] is True

        # the first one-off joined again: its exit ends the attach, the engine removes it
        name = unique + "a"
        rc, err = _term(c, cfg, name, f"attach --detach-keys ctrl-p,ctrl-q {oneoffs[0]}")
        try:
            wait_for(lambda: b"/ #" in tmux_pane(name))
            _keys(name, "echo again-$((2+3)); exit 5", "Enter")
            wait_for(lambda: b"again-5" in tmux_pane(name))
            assert _code(name, rc) == 5
        finally:
            _kill(name)
        wait_for(lambda: oneoffs[0] not in c.ids())
    finally:
        for n in oneoffs:
            with c.d.api() as api:
                api.delete(f"/containers/{n}", params={"force": "1"})
