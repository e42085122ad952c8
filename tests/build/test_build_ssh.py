"""``RUN --mount=type=ssh`` with ``--ssh default[=SOCKET]``, against a real ``ssh-agent``.

The step sees a socket at the target (``/run/buildkit/ssh_agent.0`` by
default) with ``SSH_AUTH_SOCK`` pointing at it, and speaks the agent
protocol through it (``ssh-add -l`` lists the key we added); nothing of it
reaches the layer, the image's env or the cache key.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.build import BuildResult
from dockyard.build.errors import BuildError, SecretError
from dockyard.build.ssh import parse_ssh
from dockyard.images import ImageService

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
SSH_ADD = shutil.which("ssh-add") or "/usr/bin/ssh-add"


@pytest.fixture
def agent(short_tmp: str) -> Iterator[tuple[str, str]]:
    """A real ssh-agent on a private socket holding one fresh ed25519 key: (socket, fingerprint)."""
    sock = os.path.join(short_tmp, "agent.sock")
    p = subprocess.run(["ssh-agent", "-a", sock, "-s"], capture_output=True, text=True, check=True)
    pid = int(p.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        key = os.path.join(short_tmp, "id")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        subprocess.run([SSH_ADD, "-q", key], env={**os.environ, "SSH_AUTH_SOCK": sock}, check=True,
                       capture_output=True)
        fp = subprocess.run(["ssh-keygen", "-lf", key + ".pub"], capture_output=True, text=True,
                            check=True).stdout.split()[1]
        yield sock, fp
    finally:
        os.kill(pid, signal.SIGTERM)


def _ctx(ctx: Path, dockerfile: str) -> str:
    (ctx / "Dockerfile").write_text(dockerfile)
    return str(ctx)




SOCKET_CHECK = """\
FROM busybox:latest
RUN --mount=type=ssh test -S /run/buildkit/ssh_agent.0 && [ "$SSH_AUTH_SOCK" = /run/buildkit/ssh_agent.0 ] \\
    && stat -c '%a %u' /run/buildkit/ssh_agent.0 > /sock-mode
RUN --mount=type=ssh,id=other,target=/tmp/agent,mode=0660,uid=1000 \\
    test -S /tmp/agent && [ "$SSH_AUTH_SOCK" = /tmp/agent ] && stat -c '%a %u' /tmp/agent > /other-mode
RUN echo "no agent here: ${SSH_AUTH_SOCK:-unset}" > /after && ! test -e /run/buildkit
"""


def test_ssh_mount_socket_env_and_nothing_left(build: Callable[..., BuildResult], store: ImageService,
                                                ctx: Path, unique: str, agent: tuple[str, str],
                                                tmp_path: Path) -> None:
    sock, _ = agent
    out = tmp_path / "out"
    r = build(_ctx(ctx, SOCKET_CHECK), network="none", ssh={"default": sock, "other": sock},
              tags=[f"{unique}:ssh"], outputs=[{"type": "local", "dest": str(out)}])
    assert (out / "sock-mode").read_text() == "600 0\n"
    assert (out / "other-mode").read_text() == "660 1000\n"
    assert (out / "after").read_text() == "no agent here: unset\n"
    assert not (out / "run" / "buildkit").exists() and not (out / "tmp" / "agent").exists()
    img = store.get(f"{unique}:ssh")
    assert not any("SSH_AUTH_SOCK" in e for e in img.config.config.env or [])
    assert not any(sock in (h.created_by or "") for h in img.config.history or [])
    # the agent's path is not in the cache key: another path to the agent, same steps, all cached
    assert r.run_steps == 3
    other = tmp_path / "elsewhere.sock"
    other.symlink_to(sock)
    again = build(str(ctx), network="none", ssh={"default": str(other), "other": str(other)},
                  tags=[f"{unique}:ssh"])
    assert again.run_steps == 0 and again.image_id == store.get(f"{unique}:ssh").id


def _with_ssh_add(ctx: Path) -> None:
    """Debian's ssh-add and the libraries it links, in the context (busybox has no unix-socket client)."""
    tools = ctx / "tools"
    tools.mkdir()
    shutil.copy2(SSH_ADD, tools / "ssh-add")
    out = subprocess.run(["ldd", SSH_ADD], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        path = line.split("=>")[-1].split("(")[0].strip()
        if path.startswith("/"):
            shutil.copy2(path, tools / os.path.basename(path))


def test_agent_protocol_through_the_step(build: Callable[..., BuildResult], ctx: Path,
                                         agent: tuple[str, str], tmp_path: Path) -> None:
    """The step talks to the real agent over the forwarded socket: ``ssh-add -l`` lists our key."""
    sock, fingerprint = agent
    _with_ssh_add(ctx)
    out = tmp_path / "out"
    dockerfile = """\
FROM busybox:latest
RUN --mount=type=ssh,required=true --mount=type=bind,source=tools,target=/t \\
    /t/ld-linux-x86-64.so.2 --library-path /t /t/ssh-add -l > /keys
"""
    build(_ctx(ctx, dockerfile), network="none", ssh={"default": sock}, no_cache=True,
          outputs=[{"type": "local", "dest": str(out)}])
    assert fingerprint in (out / "keys").read_text()


def test_required_ssh_without_agent_is_a_clear_error(build: Callable[..., BuildResult], ctx: Path) -> None:
    dockerfile = "FROM busybox:latest\nRUN --mount=type=ssh,required=true true\n"
    with pytest.raises(SecretError, match=r"no ssh agent for id 'default' \(pass it with --ssh default"):
        build(_ctx(ctx, dockerfile), network="none")
    # not required: the step runs without it
    ok = "FROM busybox:latest\nRUN --mount=type=ssh test ! -e /run/buildkit/ssh_agent.0 && [ -z \"$SSH_AUTH_SOCK\" ]\n"
    build(_ctx(ctx, ok), network="none", no_cache=True)


def test_bad_ssh_values(tmp_path: Path, ctx: Path) -> None:
    plain = tmp_path / "key"
    plain.write_text("not a socket")
    with pytest.raises(SecretError, match="is not a socket"):
        parse_ssh(f"default={plain}")
    with pytest.raises(SecretError, match="SSH_AUTH_SOCK is not set"):
        parse_ssh("default", environ={})
    with pytest.raises(SecretError, match="No such file"):
        parse_ssh(f"default={tmp_path / 'missing'}")
    with pytest.raises(SecretError, match="expected ID"):
        parse_ssh("=x")
    from dockyard.build.mounts import parse_mount

    with pytest.raises(BuildError, match="unexpected key 'source' for type=ssh"):
        parse_mount("type=ssh,source=/x")


def test_cli_ssh_flag(store: ImageService, ctx: Path, agent: tuple[str, str], unique: str) -> None:
    sock, _ = agent
    root = os.path.dirname(store.content.root)  # type: ignore[attr-defined]
    _ctx(ctx, "FROM busybox:latest\nRUN --mount=type=ssh,required=true test -S \"$SSH_AUTH_SOCK\"\n")

    def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DOCKYARD, "build", "-q", "--root", root, "--network", "none", "--no-cache",
                               *args, str(ctx)], capture_output=True, text=True, timeout=60,
                              env={k: v for k, v in {**os.environ, **env}.items() if v})
    # SSH_AUTH_SOCK by default
    p = run("--ssh", "default", env={"SSH_AUTH_SOCK": sock})
    assert p.returncode == 0 and p.stdout.startswith("sha256:"), p.stderr
    p = run(f"--ssh=default={sock}", env={"SSH_AUTH_SOCK": ""})
    assert p.returncode == 0, p.stderr
    p = run(env={"SSH_AUTH_SOCK": sock})  # no --ssh: a required mount fails clearly
    assert p.returncode == 1 and "no ssh agent for id 'default'" in p.stderr
    p = run("--ssh", "default=/nonexistent.sock", env={})
    assert p.returncode == 1 and "--ssh default: cannot use /nonexistent.sock" in p.stderr
