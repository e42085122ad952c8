"""cgroups through the runtime, seen from inside the container — dockyard and runc alike.

Each test runs against both ``dockyard-runtime`` and Debian's ``runc``
(``runtime_cli``), with a ``linux.cgroupsPath`` of its own, and checks that
no cgroup directory is left once the container is deleted.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from rt_helpers import CLI, Bundle, in_container

from dockyard.runtime.cgroups import paths

pytestmark = [pytest.mark.needs_root, pytest.mark.runc]

HOST = paths.host()


def _roots() -> list[str]:
    roots = sorted({h.mountpoint for h in HOST.v1.values()})
    return roots + ([HOST.unified.mountpoint] if HOST.unified else [])


def _cgroup(bundle: Bundle, name: str, resources: dict[str, object]) -> None:
    bundle.linux["cgroupsPath"] = f"/{name}"
    bundle.linux.setdefault("resources", {}).update(resources)


def _gone(name: str) -> bool:
    return not any(os.path.exists(f"{r}/{name}") for r in _roots())


def _stats(cli: CLI, cid: str) -> dict[str, object]:
    out = cli("events", "--stats", cid, check=True)
    ev = json.loads(out.stdout.splitlines()[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    data: dict[str, object] = ev["data"]
    return data


def test_memory_hog_is_oom_killed_inside(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    name = f"{unique}-{runtime_cli.name}"
    _cgroup(bundle, name, {"memory": {"limit": 24 << 20, "swap": 24 << 20}})
    # busybox tail keeps the whole (newline-free) input: it grows until killed.
    done = in_container(
        runtime_cli, bundle,
        "head -c 300m /dev/zero | tail >/dev/null; echo status=$?",
        name,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "status=137" in done.stdout  # 128 + SIGKILL from the OOM killer
    assert _gone(name)


def test_fork_loop_is_contained_by_pids_limit(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    name = f"{unique}-{runtime_cli.name}"
    _cgroup(bundle, name, {"pids": {"limit": 8}})
    done = in_container(
        runtime_cli, bundle,
        "i=0; while [ $i -lt 40 ]; do sleep 20 & i=$((i+1)); done; echo survived",
        name,
    )  # fmt: skip
    assert "survived" not in done.stdout
    assert "fork" in done.stderr.lower()
    assert _gone(name)  # the sleeps left behind died with the container


def test_cgroup_path_seen_inside(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    name = f"{unique}-{runtime_cli.name}"
    _cgroup(bundle, name, {})
    done = in_container(runtime_cli, bundle, "cat /proc/self/cgroup", name)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.split(":")[1] in HOST.v1]
    assert lines and all(ln.endswith(f":/{name}") for ln in lines)


def test_update_pause_resume_and_stats(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    cid = name = f"{unique}-{runtime_cli.name}"
    _cgroup(bundle, name, {"pids": {"limit": 100}, "memory": {"limit": 64 << 20}})
    bundle.process["args"] = ["sh", "-c", "while :; do :; done"]
    created = runtime_cli.create(cid, bundle)
    assert created.returncode == 0, created.stderr
    runtime_cli("start", cid, check=True)
    try:
        runtime_cli("update", "--pids-limit", "5", "--memory", "128m", cid, check=True)
        data = _stats(runtime_cli, cid)
        assert data["pids"] == {"current": 1, "limit": 5}  # type: ignore[comparison-overlap]
        assert data["memory"]["usage"]["limit"] == 128 << 20  # type: ignore[index]

        runtime_cli("pause", cid, check=True)
        assert runtime_cli.state(cid)["status"] == "paused"
        before = _stats(runtime_cli, cid)["cpu"]["usage"]["total"]  # type: ignore[index]
        time.sleep(0.3)
        after = _stats(runtime_cli, cid)["cpu"]["usage"]["total"]  # type: ignore[index]
        assert after - before < 5_000_000  # frozen: no cpu time
        runtime_cli("resume", cid, check=True)
        assert runtime_cli.state(cid)["status"] == "running"
        deadline = time.monotonic() + 20  # resumed: it runs (slowly on a loaded machine)
        while _stats(runtime_cli, cid)["cpu"]["usage"]["total"] - after <= 20_000_000:  # type: ignore[index]
            assert time.monotonic() < deadline, "no cpu time after resume"
            time.sleep(0.1)
    finally:
        runtime_cli("delete", "--force", cid)
    assert _gone(name)


def test_container_cannot_raise_its_own_limits(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    """Attack: from inside, lift pids.max or move out to the root cgroup. Both must fail."""
    name = f"{unique}-{runtime_cli.name}"
    _cgroup(bundle, name, {"pids": {"limit": 8}})
    pids_dir = HOST.v1["pids"].mountpoint if "pids" in HOST.v1 else "/sys/fs/cgroup"
    inner = "/sys/fs/cgroup/pids" if "pids" in HOST.v1 else "/sys/fs/cgroup"
    done = in_container(
        runtime_cli, bundle,
        f"echo max > {inner}/pids.max 2>&1; echo raise=$?; "
        f"echo $$ > {inner}/../cgroup.procs 2>&1; echo $$ > {inner}/cgroup.procs 2>&1; "
        f"cat {inner}/pids.max; cat /proc/self/cgroup",
        name,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "raise=1" in done.stdout
    assert "\n8\n" in done.stdout  # the limit the container sees is still 8
    # Still in its own cgroup, whatever it wrote.
    assert any(ln.endswith(f":/{name}") for ln in done.stdout.splitlines() if ":pids:" in ln)
    assert not os.path.exists(f"{pids_dir}/{name}")
