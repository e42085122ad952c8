"""seccomp through the runtime, seen from inside the container — dockyard and runc alike."""

from __future__ import annotations

import json

import msgspec
import pytest
from rt_helpers import CLI, Bundle, in_container

from dockyard.runtime import seccomp

pytestmark = [pytest.mark.needs_root, pytest.mark.runc]


@pytest.fixture
def bundle(bundle: Bundle) -> Bundle:
    bundle.config["root"]["readonly"] = False  # the tests write to /tmp (a private copy)
    return bundle


def test_errno_and_arg_rules_inside(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            # chmod to exactly 0o600 is refused; other modes pass.
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
             "args": [{"index": 1, "value": 0o600, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
             "args": [{"index": 2, "value": 0o600, "op": "SCMP_CMP_EQ"}]},
            {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO"},
        ],
    }  # fmt: skip
    done = in_container(
        runtime_cli, bundle,
        "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f; chmod 644 /tmp/f && echo chmod644=ok; "
        "chmod 600 /tmp/f 2>&1; echo chmod600=$?",
        f"{unique}-{runtime_cli.name}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Operation not permitted" in out and "mkdir=1" in out
    assert "chmod644=ok" in out
    assert "Read-only file system" in out and "chmod600=1" in out  # errnoRet 30 = EROFS


def test_kill_action_kills_the_process(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}],
    }
    cid = f"{unique}-{runtime_cli.name}"
    done = in_container(runtime_cli, bundle, "(mkdir /tmp/k); echo after=$?", cid)
    assert "after=159" in done.stdout  # 128 + SIGSYS, in the subshell that called mkdir
    assert done.returncode == 0


def test_default_profile_blocks_unshare(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    profile = json.loads(msgspec.json.encode(seccomp.default_profile()))
    bundle.linux["seccomp"] = profile
    done = in_container(
        runtime_cli, bundle,
        "unshare -u true 2>&1; echo unshare=$?; mkdir /tmp/ok && echo mkdir=ok",
        f"{unique}-{runtime_cli.name}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "unshare=1" in done.stdout and "Operation not permitted" in done.stdout
    assert "mkdir=ok" in done.stdout
