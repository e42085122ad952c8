"""OCI hooks: prestart, createRuntime, createContainer, startContainer, poststart, poststop.

Each hook is ``{"path", "args", "env", "timeout"}`` as in config.json (the
wire form: ``delete`` reads poststop hooks without decoding the whole spec).
It runs with the container state JSON on stdin. Where they run and what a
failure means (runtime-spec config.md#posix-platform-hooks):

================  ===================================  ================================
hook              run by / where                       on failure
================  ===================================  ================================
prestart          runtime, runtime namespaces, after   create fails; container removed
                  the mounts, before pivot_root
createRuntime     same moment as prestart              create fails; container removed
createContainer   ``[2:INIT]``, container namespaces,  create fails; container removed
                  before pivot_root (host paths)
startContainer    ``[2:INIT]``, after start, before    the process is not started
                  execve, inside the container root
poststart         runtime, after start                 warning only
poststop          runtime, at delete                   warning only
================  ===================================  ================================
"""

from __future__ import annotations

import os

from .errors import HookError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PHASES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def run(hooks: list[dict[str, Any]] | None, state: bytes, phase: str) -> None:
    """Run ``hooks`` in order; the first failure raises ``HookError``."""
    if not hooks:
        return
    import subprocess

    for i, hook in enumerate(hooks):
        path = hook["path"]
        args = hook.get("args") or [path]
        env = dict(kv.split("=", 1) for kv in hook.get("env") or () if "=" in kv)
        timeout = hook.get("timeout")
        where = f"{phase} hook #{i} ({path})"
        try:
            done = subprocess.run(
                args, executable=path, input=state, env=env, timeout=timeout,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
            )
        except subprocess.TimeoutExpired:
            raise HookError(f"{where}: timed out after {timeout}s") from None
        except OSError as e:
            raise HookError(f"{where}: {e.strerror}") from None
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()
            tail = f": {detail[-1]}" if detail else ""
            raise HookError(f"{where} failed: exit status {done.returncode}{tail}")


def run_warn(hooks: list[dict[str, Any]] | None, state: bytes, phase: str) -> None:
    """poststart/poststop: a failure is logged, never raised."""
    try:
        run(hooks, state, phase)
    except HookError as e:
        os.write(2, f"WARN[0000] {e}\n".encode())
