"""The zygote: lean while idle, seccomp profiles compiled once in it (``Zygote.warm``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root


def _zygote(d: Daemon) -> int:
    assert d.proc is not None
    with open(f"/proc/{d.proc.pid}/task/{d.proc.pid}/children") as f:
        kids = [int(p) for p in f.read().split()]
    for pid in kids:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() == "dy-zygote":
                return pid
    raise AssertionError(f"no dy-zygote among the daemon's children {kids}")


def _seccomp_mode(out: bytes) -> str:
    return out.decode().split("Seccomp:", 1)[1].split()[0]


def test_zygote_carries_no_registry_client_and_warms_seccomp(daemon: Daemon) -> None:
    z = _zygote(daemon)
    with open(f"/proc/{z}/maps") as f:
        maps = f.read()
    # An interpreter of its own: none of the daemon's libraries (aiohttp, the
    # registry client's TLS, click) and, with the C shim, no msgspec either.
    for lib in ("libssl", "aiohttp", "msgspec", "libstdc++", "libsqlite3"):
        assert lib not in maps, lib
    with open(f"/proc/{z}/cmdline") as f:
        assert "click" not in f.read()
    for _ in range(2):  # the first start warms the zygote, the second forks from it
        r = daemon.docker("run", "--rm", "--network", "none", "busybox", "cat",
                          "/proc/self/status", check=True)
        assert _seccomp_mode(r.stdout) == "2"
    r = daemon.docker("run", "--rm", "--network", "none", "--security-opt", "seccomp=unconfined",
                      "busybox", "cat", "/proc/self/status", check=True)
    assert _seccomp_mode(r.stdout) == "0"
    r = daemon.docker("run", "--rm", "--network", "none", "--cap-add", "SYS_ADMIN", "busybox",
                      "cat", "/proc/self/status", check=True)  # another profile: warmed apart
    assert _seccomp_mode(r.stdout) == "2"
    assert _zygote(daemon) == z
    with open(f"/proc/{z}/maps") as f:  # compiled by its short-lived children
        assert "libseccomp" not in f.read()


_BAD_WARM = """
from dockyard.engine.zygote import Zygote
z = Zygote()
z.warm("/nonexistent/bundle", "a", "/nonexistent/root")  # no config.json: ignored by the zygote
z.warm("/nonexistent/bundle", "a", "/nonexistent/root")  # the same key: not even sent
z.warm("/proc/self", "b", "/nonexistent/root")           # not a bundle either
print(sorted(z._warmed))
z.close()
"""


def test_warm_with_a_bad_bundle_leaves_the_zygote_serving() -> None:
    out = subprocess.run([sys.executable, "-c", _BAD_WARM], capture_output=True, text=True,
                         timeout=120, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['a', 'b']"
