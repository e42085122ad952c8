"""``dockyard completion bash``: the script bash sources, driven the way bash
drives it (COMP_WORDS/COMP_CWORD, then the completion function)."""

from __future__ import annotations

import os
import subprocess
import sys

BIN = os.path.dirname(sys.executable)


def _complete(words: list[str]) -> list[str]:
    script = (
        "source <(dockyard completion bash) || exit 9; "
        "complete -p dockyard >/dev/null || exit 8; "
        f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); "
        '_dockyard_completion dockyard; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]})
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


def test_bash_completes_commands_options_and_choices() -> None:
    assert _complete(["dockyard", "sta"]) == ["start"]
    assert set(_complete(["dockyard", "r"])) >= {"rm", "run", "rename", "restart"}
    assert "--log-driver" in _complete(["dockyard", "run", "--log-d"])
    assert _complete(["dockyard", "completion", "b"]) == ["bash"]


def test_unknown_shell_is_refused_with_the_choices() -> None:
    r = subprocess.run([os.path.join(BIN, "dockyard"), "completion", "tcsh"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in r.stderr
    assert r.stdout == ""
