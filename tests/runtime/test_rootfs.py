"""The root filesystem, observed from inside: mounts, options, propagation, devices, pivot."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rt_helpers import CLI, Bundle, in_container

pytestmark = pytest.mark.needs_root


def mount_line(mountinfo: str, target: str) -> str:
    return next(line for line in mountinfo.splitlines()
                if len(line.split()) > 5 and line.split()[4] == target)


def test_bind_mount_options(runtime_cli: CLI, bundle: Bundle, unique: str, tmp_path: Path) -> None:
    src = tmp_path / "data"
    (src / "sub").mkdir(parents=True)
    (src / "hello").write_text("hi\n")
    (src / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (src / "run.sh").chmod(0o755)
    bundle.config["mounts"] += [
        {"destination": "/ro", "type": "bind", "source": str(src),
         "options": ["rbind", "ro", "nosuid", "nodev", "noexec", "rprivate"]},
        {"destination": "/rw", "type": "bind", "source": str(src), "options": ["bind", "rw"]},
        {"destination": "/file", "type": "bind", "source": str(src / "hello"), "options": ["bind", "ro"]},
    ]
    r = in_container(runtime_cli, bundle,
                     "cat /ro/hello /file; touch /ro/x 2>/dev/null || echo RO; /ro/run.sh 2>/dev/null "
                     "|| echo NOEXEC; /rw/run.sh; echo w > /rw/new; cat /proc/self/mountinfo", unique)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == ["hi", "hi", "RO", "NOEXEC", "ran"]
    assert (src / "new").read_text() == "w\n"
    ro = mount_line(r.stdout, "/ro").split()[5].split(",")
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(ro)
    assert "shared:" not in mount_line(r.stdout, "/ro")


def test_tmpfs_size_mode_and_special_filesystems(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.config["mounts"].append(
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=1m", "mode=1700", "nodev"]})
    r = in_container(runtime_cli, bundle,
                     "stat -c %a /scratch; df -k /scratch | tail -1 | awk '{print $2}'; "
                     "awk '$5 ~ /^\\/(proc|sys|dev\\/pts|dev\\/mqueue|dev\\/shm|sys\\/fs\\/cgroup)$/ "
                     "{print $5, $(NF-2)}' /proc/self/mountinfo", unique)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "1700" and lines[1] == "1024"
    types = dict(line.split() for line in lines[2:])
    assert types == {"/proc": "proc", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
                     "/dev/mqueue": "mqueue", "/sys": "sysfs", "/sys/fs/cgroup": "tmpfs"}


def test_default_devices_and_symlinks(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["devices"] = [{"path": "/dev/fuse2", "type": "c", "major": 10, "minor": 229,
                                "fileMode": 0o600, "uid": 0, "gid": 0}]
    bundle.linux["resources"]["devices"].append({"allow": True, "type": "c", "major": 10,
                                                 "minor": 229, "access": "rwm"})
    r = in_container(runtime_cli, bundle,
                     "for d in null zero full random urandom tty fuse2; do stat -c '%n %t:%T %a' /dev/$d; "
                     "done; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; "
                     "echo x > /dev/null && head -c 4 /dev/zero | wc -c", unique)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:7] == ["/dev/null 1:3 666", "/dev/zero 1:5 666", "/dev/full 1:7 666",
                         "/dev/random 1:8 666", "/dev/urandom 1:9 666", "/dev/tty 5:0 666",
                         "/dev/fuse2 a:e5 600"]
    assert lines[7:12] == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1",
                           "/proc/self/fd/2", "pts/ptmx"]
    assert lines[12] == "4"


@pytest.fixture
def host_marker(tmp_path: Path) -> Iterator[str]:
    marker = tmp_path / f"marker{os.getpid()}"
    marker.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "dymarker", str(marker)], check=True)
    try:
        yield marker.name
    finally:
        subprocess.run(["umount", "-l", str(marker)], check=False)


@pytest.mark.parametrize("no_pivot", [False, True])
def test_pivot_root_hides_host_mounts(cli: CLI, bundle: Bundle, unique: str, host_marker: str,
                                      no_pivot: bool) -> None:
    bundle.process["args"] = ["sh", "-c", f"grep -c {host_marker} /proc/self/mountinfo; ls /bin/sh"]
    bundle.write()
    r = cli("run", *(["--no-pivot"] if no_pivot else []), "--bundle", str(bundle.path), unique)
    # pivot_root detaches the host's mounts; MS_MOVE + chroot leaves them out of sight
    assert r.stdout.split() == ["0", "/bin/sh"], r.stderr


def test_readonly_paths_and_sysctl(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456"}
    bundle.config["root"]["readonly"] = False
    r = in_container(runtime_cli, bundle,
                     "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; "
                     "(echo 0 > /proc/sys/net/ipv4/ip_forward) 2>/dev/null || echo RO; "
                     "touch /ok && echo RW", unique)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "123456", "RO", "RW"]


def test_rootfs_propagation_shared(cli: CLI, bundle: Bundle, unique: str) -> None:
    # runc 1.1 leaves "/" private after pivot_root whatever is asked; we apply it.
    bundle.linux["rootfsPropagation"] = "rshared"
    r = in_container(cli, bundle, "awk '$5 == \"/\"' /proc/self/mountinfo | grep -c shared:", unique)
    assert r.stdout.split() == ["1"], r.stderr


def test_host_sysctl_refused(runtime_cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["sysctl"] = {"kernel.panic": "10"}
    r = in_container(runtime_cli, bundle, "true", unique)
    assert r.returncode != 0 and "kernel.panic" in r.stderr


def test_cgroup_mount_shows_own_cgroup(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["resources"]["pids"] = {"limit": 42}
    r = in_container(cli, bundle, "cat /sys/fs/cgroup/pids/pids.max; ls /sys/fs/cgroup/cpu/ | "
                     "grep -c cpu.shares; touch /sys/fs/cgroup/pids/x 2>/dev/null || echo RO", unique)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["42", "1", "RO"]
