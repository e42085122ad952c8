"""What the speed work relies on, checked: it must stay correct and stay fast.

- The CLI's light verbs (state, start, kill) import none of the heavy
  modules (msgspec, tempfile, shutil, subprocess, socket): each is paid by
  every container's lifecycle (BENCHMARKS.md: a Python CLI pays its imports
  per call).
- The stages' short hand-off protocol (stages.py) leaves nothing behind when
  the init fails before the runtime has heard its pid (the init's "error"
  may overtake [1:CHILD]'s "init"): no zombie, no state directory; on both
  paths: direct (a single-threaded caller clones the init itself) and two
  stages (a caller with threads, like the engine).
- The direct path keeps the security properties of the two-stage one: the
  init holds none of the caller's fds, sits in the container's cgroup, and
  a container process cannot open /proc/1/exe (our python). (That it is
  non-dumpable is not observable here: without a user namespace, which the
  direct path never has, the kernel's capability-subset rule already stops
  the attack; test_security covers non-dumpability with one.)
- ``write_private`` (state.json without tempfile) is atomic, exact about
  the mode whatever the umask, and never follows a planted symlink.
- ``check_id`` (no ``re``) keeps runc's rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from rt_helpers import CLI, DOCKYARD_RUNTIME, Bundle

from dockyard.runtime.container import check_id, remove_dir, write_private
from dockyard.runtime.errors import InvalidArgument

HEAVY = ("msgspec", "tempfile", "shutil", "subprocess", "socket", "dataclasses", "typing")


def _imported_by(argv: list[str]) -> set[str]:
    """Modules a CLI call imported (python -X importtime, on stderr).

    stderr goes to a file, not a pipe: after ``create`` the container's init
    holds the runtime's stdio, and a pipe would not see EOF until it exits.
    """
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.run([sys.executable, "-X", "importtime", DOCKYARD_RUNTIME, *argv],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                           timeout=60)
        err.seek(0)
        stderr = err.read()
    assert p.returncode == 0, stderr[-2000:]
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert names, stderr
    return names


def test_light_verbs_import_nothing_heavy(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["sleep", "30"]
    assert cli.create(unique, bundle).returncode == 0
    root = ["--root", str(cli.root)]
    for argv in (["state", unique], ["start", unique], ["kill", unique, "KILL"]):
        heavy = sorted(_imported_by(root + argv) & set(HEAVY))
        assert heavy == [], f"dockyard-runtime {argv[0]} imported {heavy}"
    assert cli("delete", "--force", unique).returncode == 0


# What a container's lifecycle (create, start, state, delete; or run) must not
# import: each costs every call a few ms of CPU in a fresh interpreter. The
# CLI decodes config.json with runtime.config (not msgspec), JSON with
# runtime.jsonio (json's C codec: no json package, hence no re and enum),
# signals through _signal (no enum), and keeps typing, dataclasses (inspect),
# contextlib and functools off the path.
LIFECYCLE_HEAVY = (*HEAVY, "json", "re", "enum", "signal", "inspect", "contextlib", "functools",
                   "dockyard.oci.runtime")
# ``start``, ``state`` and ``delete`` never load the creation machinery.
CREATION = ("dockyard.runtime.create", "dockyard.runtime.stages", "dockyard.runtime.config",
            "dockyard.runtime.rootfs", "dockyard.runtime.process", "ctypes")


def test_lifecycle_verbs_import_only_what_they_need(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["true"]
    bundle.write()
    root = ["--root", str(cli.root)]
    # `run` and `create` with a cgroup limit: the cgroup modules are on the path too.
    bundle.linux.setdefault("resources", {})["pids"] = {"limit": 100}
    bundle.write()
    seen = _imported_by(root + ["run", "--bundle", str(bundle.path), f"{unique}-r"])
    assert sorted(seen & set(LIFECYCLE_HEAVY)) == [], "run"
    assert "dockyard.runtime.cgroups.v1" in seen or "dockyard.runtime.cgroups.v2" in seen
    steps = (["create", "--bundle", str(bundle.path), unique], ["state", unique], ["start", unique],
             ["delete", "--force", unique])
    for argv in steps:
        seen = _imported_by(root + argv)
        heavy = sorted(seen & set(LIFECYCLE_HEAVY))
        assert heavy == [], f"dockyard-runtime {argv[0]} imported {heavy}"
        if argv[0] != "create":
            creation = sorted(seen & set(CREATION))
            assert creation == [], f"dockyard-runtime {argv[0]} imported {creation}"
    assert not (cli.root / unique).exists()


_FAILING_INIT = textwrap.dedent("""
    import os, sys, threading
    from dockyard.runtime import stages
    from dockyard.runtime.api import Runtime
    from dockyard.runtime.errors import RuntimeFailure
    root, bundle, prefix, path = sys.argv[1:5]
    if path == "two-stage":  # a thread, as the engine has: no direct clone
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    assert stages._single_threaded() == (path == "direct")
    rt = Runtime(root)
    null = os.open(os.devnull, os.O_RDWR)
    for i in range(5):
        try:
            rt.create(f"{prefix}-{i}", bundle, stdio=(null, null, null))
        except RuntimeFailure as e:
            print("create failed:", e)
        else:
            sys.exit("create succeeded")
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        print("no children left")
    else:
        sys.exit(f"a child is left over (pid {pid})")
    print("dirs left:", sorted(os.listdir(root)) if os.path.isdir(root) else [])
""")


@pytest.mark.parametrize("path", ["direct", "two-stage"])
@pytest.mark.parametrize("how", ["mount", "prestart"])
def test_failed_setup_leaves_no_child_or_state(bundle: Bundle, short_tmp: Path, unique: str,
                                               how: str, path: str) -> None:
    if how == "mount":  # the init fails at once: its "error" races [1:CHILD]'s "init"
        bundle.config["mounts"].append({"destination": "/x", "type": "nosuchfs", "source": "none"})
    else:  # the runtime fails (a prestart hook) after it knows the init's pid
        bundle.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    bundle.write()
    root = short_tmp / "state"
    p = subprocess.run([sys.executable, "-c", _FAILING_INIT, str(root), str(bundle.path), unique, path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("create failed:") == 5
    assert "no children left" in p.stdout
    assert "dirs left: []" in p.stdout
    for ctrl in ("pids", "memory", "unified"):
        assert not Path(f"/sys/fs/cgroup/{ctrl}/dockyard/{unique}-0").exists()


def test_direct_init_holds_no_stray_fd_and_is_out_of_reach(cli: CLI, bundle: Bundle, unique: str,
                                                            tmp_path: Path) -> None:
    """The CLI is single-threaded: its create clones the init directly."""
    secret = tmp_path / "secret"
    secret.write_text("host")
    held = os.open(secret, os.O_RDONLY)  # inheritable, passed to the CLI: must not get further
    os.set_inheritable(held, True)
    bundle.process["args"] = ["true"]
    bundle.write()
    try:
        done = subprocess.run([cli.binary, "--root", str(cli.root), "create", "--bundle", str(bundle.path),
                               unique], pass_fds=(held,), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    finally:
        os.close(held)
    assert done.returncode == 0
    init = cli.state(unique)["pid"]
    with open(f"/proc/{init}/comm") as f:
        assert f.read().strip() == "dy:[2:INIT]"
    with open(f"/proc/{init}/status") as f:
        ppid = next(line for line in f if line.startswith("PPid:")).split()[1]
    assert ppid != "0"
    links = [os.readlink(f"/proc/{init}/fd/{fd}") for fd in os.listdir(f"/proc/{init}/fd")]
    assert str(secret) not in links, links
    assert len(links) <= 4, links  # stdio and the state directory (O_PATH, close-on-exec)
    # In the cgroup, every hierarchy (v1 here), before it ran anything of the container.
    with open(f"/proc/{init}/cgroup") as f:
        lines = [line for line in f.read().splitlines() if line.split(":")[1]]
    assert lines and all(line.endswith(f"/dockyard/{unique}") for line in lines if "hugetlb" not in line)
    # Root in the container (default capabilities): /proc/1/exe, the host's python, is
    # out of its reach while our code runs in there.
    r = cli("exec", unique, "sh", "-c", "cat /proc/1/comm; cat /proc/1/exe > /dev/null && echo OPENED; true")
    assert "dy:[2:INIT]" in r.stdout, r.stderr
    assert "OPENED" not in r.stdout


def test_write_private_is_atomic_exact_and_ignores_planted_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    # A symlink where the temporary file will be made (same pid and thread).
    import threading

    planted = tmp_path / f".tmp-state.json-{os.getpid()}-{threading.get_ident()}"
    planted.symlink_to(victim)
    old = os.umask(0o277)
    try:
        write_private(str(target), json.dumps({"a": 1}).encode())
    finally:
        os.umask(old)
    assert json.loads(target.read_text()) == {"a": 1}
    assert victim.read_text() == "untouched"
    assert (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "victim"]
    write_private(str(target), b"x" * 300_000, 0o644)  # replaced whole, new mode
    assert target.read_bytes() == b"x" * 300_000
    assert (target.stat().st_mode & 0o777) == 0o644


def test_remove_dir_removes_files_fifos_and_stray_dirs(tmp_path: Path) -> None:
    d = tmp_path / "c1"
    d.mkdir()
    (d / "state.json").write_text("{}")
    os.mkfifo(d / "exec.fifo")
    (d / "stray" / "deep").mkdir(parents=True)
    (d / "link").symlink_to(tmp_path)  # removed as a link, its target stays
    remove_dir(str(d))
    assert not d.exists()
    assert tmp_path.exists()
    remove_dir(str(d))  # gone already: no error


@pytest.mark.parametrize("cid", ["a", "my_container-1.2+x", "Ünïcode9"])
def test_check_id_accepts_runc_ids(cid: str) -> None:
    check_id(cid)


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "../x", "a b", "a\n", "a\x00", "a:b"])
def test_check_id_refuses_the_rest(cid: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid container id format"):
        check_id(cid)
