"""Attacks that must fail: fd leaks, /proc/self/fd cwd, /proc/PID/exe, symlinked mounts, masks."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from rt_helpers import CLI, Bundle, in_container

from dockyard.runtime import Runtime
from dockyard.runtime.securejoin import open_in_root, secure_join

pytestmark = pytest.mark.needs_root


# --- securejoin ------------------------------------------------------------------


def test_secure_join_clamps_dotdot_and_absolute_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "abs").symlink_to("/etc")
    (root / "rel").symlink_to("../../../../../../etc")
    (root / "loop").symlink_to("loop")
    (root / "etc" / "up").symlink_to("..")
    r = str(root)
    assert secure_join(r, "/../../etc/passwd") == f"{r}/etc/passwd"
    assert secure_join(r, "/abs/shadow") == f"{r}/etc/shadow"
    assert secure_join(r, "rel/x") == f"{r}/etc/x"
    assert secure_join(r, "/etc/up/etc/up/../etc") == f"{r}/etc"
    assert secure_join(r, "/missing/../../x") == f"{r}/x"
    with pytest.raises(OSError):
        secure_join(r, "/loop/x")


def test_open_in_root_refuses_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a").mkdir()
    fd = open_in_root(str(root), "/a/new/dir", create="dir")
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == f"{root}/a/new/dir"
    finally:
        os.close(fd)


def test_symlinked_mount_destination_stays_inside(cli: CLI, bundle: Bundle, unique: str,
                                                  tmp_path: Path) -> None:
    """CVE-2021-30465 class: a rootfs symlink must not aim a mount at the host."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("host file")
    (bundle.rootfs / "evil-abs").symlink_to(str(victim))
    (bundle.rootfs / "evil-rel").symlink_to("../../../../../../../../.." + str(victim))
    bundle.config["mounts"] += [
        {"destination": "/evil-abs", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        {"destination": "/evil-rel/sub", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
    ]
    r = in_container(cli, bundle, f"touch {victim}/planted && echo planted; ls -d {victim}/sub", unique)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(victim)) == ["keep"]  # nothing mounted or made on the host
    with open("/proc/self/mountinfo") as f:
        assert str(victim) not in f.read()
    assert r.stdout.split() == ["planted", f"{victim}/sub"]  # both landed inside the container


# --- file descriptors ---------------------------------------------------------------


def test_no_host_fd_leaks_into_container(bundle: Bundle, state_root: Path, unique: str,
                                         tmp_path: Path) -> None:
    """The in-process API from a process holding host fds (the engine's case)."""
    held = [os.open("/", os.O_RDONLY | os.O_DIRECTORY), os.open("/sys/fs/cgroup", os.O_RDONLY),
            os.open("/etc/hostname", os.O_RDONLY)]
    for fd in held:
        os.set_inheritable(fd, True)  # even inheritable ones must not get in
    out = tmp_path / "out"
    bundle.process["args"] = ["sh", "-c", "ls /proc/self/fd; for fd in /proc/self/fd/*; do "
                              "readlink $fd; done; true"]
    bundle.write()
    rt = Runtime(root=str(state_root))
    w = os.open(out, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        rt.create(unique, str(bundle.path), stdio=(0, w, w))
        rt.start(unique)
        assert rt.wait(unique) == 0
    finally:
        os.close(w)
        for fd in held:
            os.close(fd)
        rt.delete(unique, force=True)
    lines = out.read_text().split()
    fds = sorted(int(x) for x in lines if x.isdigit())
    assert fds == [0, 1, 2, 3]  # stdio and ls's own directory fd
    assert "/sys/fs/cgroup" not in out.read_text() and "/etc/hostname" not in out.read_text()


@pytest.mark.parametrize("fd", [3, 4, 5, 6, 7, 8])
def test_cwd_in_proc_self_fd_cannot_reach_host(cli: CLI, bundle: Bundle, unique: str, fd: int) -> None:
    """CVE-2024-21626: process.cwd = /proc/self/fd/N must never land on a host directory."""
    bundle.process["cwd"] = f"/proc/self/fd/{fd}"
    r = in_container(cli, bundle, "cd ..; cd ..; cd ..; ls /; pwd; cat etc/hostname 2>/dev/null; "
                     "ls sys/fs/cgroup/unified 2>/dev/null | head -3", unique)
    # Either setup refuses the cwd, or the process is inside the container.
    if r.returncode != 0:
        assert "cwd" in r.stderr or "chdir" in r.stderr, r.stderr
    else:
        assert "bin" in r.stdout and "dockyard" not in r.stdout
    assert "cgroup.procs" not in r.stdout


ALL_CAPS = ["CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID",
            "CAP_KILL", "CAP_CHOWN", "CAP_FOWNER"]


def test_init_is_not_dumpable_while_in_container(cli: CLI, userns_bundle: Bundle, unique: str) -> None:
    """CVE-2019-5736 class: while our code runs inside (the init waits on exec.fifo), root
    in the container (user namespace, CAP_SYS_PTRACE there) must not open /proc/1/exe, the
    host's python, to overwrite it. Only non-dumpability stops this: the container's
    capabilities would otherwise allow it."""
    bundle = userns_bundle
    bundle.process["capabilities"] = {k: ALL_CAPS for k in ("bounding", "effective", "permitted")}
    bundle.process["noNewPrivileges"] = False
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["type"] != "cgroup"]
    r = cli.create(unique, bundle)
    assert r.returncode == 0, r.stderr
    init = cli.state(unique)["pid"]
    # Seen from the host: a dumpable process's /proc files belong to its own uid (here
    # 200000); a non-dumpable one's to root.
    with open(f"/proc/{init}/status") as f:
        uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
    assert uids[0] == "200000"
    assert os.stat(f"/proc/{init}/status").st_uid == 0
    r = cli("exec", unique, "sh", "-c",
            "cat /proc/1/comm; grep CapEff /proc/self/status; "
            "cat /proc/1/exe > /dev/null && echo OPENED; ls /proc/1/root/ > /dev/null && echo ROOT; "
            "true")
    assert "dy:[2:INIT]" in r.stdout, r.stderr  # it really was our stage we attacked
    assert "OPENED" not in r.stdout
    assert "ROOT" not in r.stdout


# --- masked and read-only paths ---------------------------------------------------------


def test_masked_paths_are_masked(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    r = in_container(runtime_cli, bundle,
                     "cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; "
                     "echo x > /proc/sys/kernel/hostname 2>/dev/null || echo RO; "
                     "umount /proc/kcore 2>/dev/null && echo UNMASKED; true", unique)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "0", "RO"]


def test_container_processes_cannot_see_host(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    r = in_container(runtime_cli, bundle, "echo /proc/[0-9]*; mount -o remount,rw / "
                     "2>/dev/null && echo RW; touch /x 2>/dev/null || echo ROFS", unique)
    assert r.stdout.split() == ["/proc/1", "ROFS"]  # only the shell itself; root is read-only


def test_stage_names_and_no_leftovers(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.process["args"] = ["true"]
    assert cli.create(unique, bundle).returncode == 0
    pid = cli.state(unique)["pid"]
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "dy:[2:INIT]"
    assert cli("delete", unique).returncode == 0
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not os.path.exists(f"/sys/fs/cgroup/memory/dockyard/{unique}")
    assert subprocess.run(["grep", "-c", unique, "/proc/self/mountinfo"],
                          capture_output=True, text=True).stdout.strip() == "0"
