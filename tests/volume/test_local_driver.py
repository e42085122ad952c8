"""The local driver's options on the real kernel: tmpfs, bind, ext4 on a loop device, nfs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.volume import InvalidParameter, VolumeError, VolumeService, container
from dockyard.volume.local import mount_args, resolve_nfs_addr
from dockyard.volume.mountinfo import count


def _drop(svc: VolumeService, name: str) -> None:
    """What the engine does when the last container using ``name`` is removed."""
    for user in svc.users(name):
        svc.release(name, user)
    svc.remove(name)


def _mount_line(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if line.split()[4] == path]


def test_plain_volume_is_a_directory_not_a_mount(svc: VolumeService) -> None:
    svc.create("plain")
    p = svc.mount("plain", "c1")
    assert os.path.isdir(p) and count(p) == 0
    svc.unmount("plain", "c1")


def test_tmpfs_mounted_on_first_user_gone_after_last(svc: VolumeService) -> None:
    doc = svc.create("tm", driver_opts={"type": "tmpfs", "device": "tmpfs",
                                       "o": "size=2m,mode=0750,uid=1234"})
    assert doc["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=2m,mode=0750,uid=1234"}
    path = doc["Mountpoint"]
    assert count(path) == 0  # not mounted before first use, like Docker
    assert svc.mount("tm", "a") == path
    (line,) = _mount_line(path)
    assert " - tmpfs tmpfs " in line and "size=2048k" in line and "mode=750" in line
    assert "uid=1234" in line
    svc.mount("tm", "b")
    assert count(path) == 1  # a second user shares the mount
    svc.unmount("tm", "a")
    assert count(path) == 1
    svc.unmount("tm", "b")
    assert count(path) == 0
    svc.unmount("tm", "b")  # idempotent
    _drop(svc, "tm")


def test_bind_option_and_removal_never_deletes_host_data(svc: VolumeService,
                                                          short_tmp: Path) -> None:
    host = short_tmp / "hostdir"
    host.mkdir()
    (host / "keep").write_text("precious")
    svc.create("bindvol", driver_opts={"type": "none", "o": "bind", "device": str(host)})
    p = svc.mount("bindvol", "c1")
    assert Path(p, "keep").read_text() == "precious"
    Path(p, "new").write_text("from container")
    svc.unmount("bindvol", "c1")
    assert count(p) == 0
    _drop(svc, "bindvol")
    assert (host / "keep").read_text() == "precious" and (host / "new").exists()


def test_read_only_bind_option(svc: VolumeService, short_tmp: Path) -> None:
    host = short_tmp / "ro-src"
    host.mkdir()
    svc.create("robind", driver_opts={"type": "none", "o": "bind,ro", "device": str(host)})
    p = svc.mount("robind", "c1")
    try:
        with pytest.raises(OSError, match="Read-only file system"):
            Path(p, "x").write_text("no")
    finally:
        svc.unmount("robind", "c1")


@pytest.mark.skipif(not shutil.which("mkfs.ext4") or not shutil.which("losetup"),
                    reason="mkfs.ext4/losetup missing")
def test_ext4_on_a_loop_device(svc: VolumeService, short_tmp: Path) -> None:
    img = short_tmp / "disk.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True, capture_output=True)
    dev = subprocess.run(["losetup", "--find", "--show", str(img)], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        svc.create("disk", driver_opts={"type": "ext4", "device": dev, "o": "noatime,nosuid"})
        p = svc.mount("disk", "c1")
        (line,) = _mount_line(p)
        assert " - ext4 " + dev in line and "noatime" in line and "nosuid" in line
        assert os.path.isdir(os.path.join(p, "lost+found"))
        Path(p, "file").write_text("on disk")
        svc.unmount("disk", "c1")
        assert count(p) == 0
        p = svc.mount("disk", "c2")
        assert Path(p, "file").read_text() == "on disk"
        svc.unmount("disk", "c2")
        _drop(svc, "disk")
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def test_nfs_addr_is_resolved_like_docker() -> None:
    # No NFS server here: we check the translation Docker does (addr → IP)
    # and that mount(2)'s failure comes back clearly, with nothing mounted.
    assert resolve_nfs_addr("addr=localhost,rw,nfsvers=4") == "addr=127.0.0.1,rw,nfsvers=4"
    assert resolve_nfs_addr("addr=10.1.2.3,rw") == "addr=10.1.2.3,rw"
    assert resolve_nfs_addr("rw,nolock") == "rw,nolock"
    device, fstype, flags, prop, data = mount_args(
        {"type": "nfs", "device": ":/export", "o": "addr=localhost,ro,nfsvers=4,soft"})
    assert (device, fstype, data) == (":/export", "nfs", "addr=127.0.0.1,nfsvers=4,soft")
    assert flags & 1  # MS_RDONLY went to the flags, not to the data
    with pytest.raises(VolumeError, match="error resolving passed in network volume address"):
        resolve_nfs_addr("addr=no-such-host.invalid")


def test_nfs_mount_failure_is_clear_and_leaves_nothing(svc: VolumeService) -> None:
    svc.create("nfs", driver_opts={"type": "nfs", "device": ":/export",
                                   "o": "addr=127.0.0.1,nfsvers=4,soft,timeo=1,retrans=0"})
    with pytest.raises(VolumeError, match=r"failed to mount local volume: mount :/export:.*"
                                          r"data: addr=127.0.0.1"):
        svc.mount("nfs", "c1")
    assert svc.users("nfs") == []
    assert count(svc.inspect("nfs")["Mountpoint"]) == 0
    _drop(svc, "nfs")


def test_password_is_masked_in_mount_errors(svc: VolumeService) -> None:
    svc.create("cifs", driver_opts={"type": "nosuchfs", "device": "//srv/share",
                                    "o": "username=u,password=s3cret"})
    with pytest.raises(VolumeError) as e:
        svc.mount("cifs", "c1")
    assert "s3cret" not in str(e.value) and "password=********" in str(e.value)


@pytest.mark.parametrize(("opts", "msg"), [
    ({"typo": "tmpfs"}, "invalid option: 'typo'"),
    ({"type": "tmpfs"}, "missing required option: 'device'"),
    ({"device": "tmpfs"}, "missing required option: 'type'"),
    ({"o": "size=1m"}, "missing required option: 'device'"),
    ({"size": "10G"}, "quota size requested but no quota support"),
    ({"type": "none", "device": "/tmp"}, "type=none needs o=bind"),
])
def test_bad_options_refused_and_nothing_created(svc: VolumeService, opts: dict[str, str],
                                                 msg: str) -> None:
    with pytest.raises(InvalidParameter, match=msg):
        svc.create("badopts", driver_opts=opts)
    assert svc.list() == []
    assert not os.path.exists(os.path.join(svc.root, "volumes", "badopts"))


_CRASHER = """
import os, signal, sys
from dockyard.volume import VolumeService
s = VolumeService(sys.argv[1], sys.argv[2])
s.create("live", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
s.create("orphan", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
p = s.mount("live", "ctr1")
open(os.path.join(p, "state"), "w").write("alive")
s.mount("orphan", "ctr2")
s.unmount("orphan", "ctr2")
# a mount made but never recorded (a crash between the two steps):
from dockyard.linux import syscalls
syscalls.mount("tmpfs", s.local.path("orphan"), "tmpfs", 0, "size=1m")
# a subpath pin of a container that is gone, and one of a live user
from dockyard.volume.resolve import pin_subpath
os.mkdir(os.path.join(p, "sub"))
pin_subpath(p, "sub", os.path.join(sys.argv[2], "volumes", "pins", "gone", "0"))
pin_subpath(p, "sub", os.path.join(sys.argv[2], "volumes", "pins", "ctr1", "0"))
s.acquire("live", "ctr1")
print(p, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_then_restart_mounts_nothing_twice(short_tmp: Path) -> None:
    root, run = str(short_tmp / "root"), str(short_tmp / "run")
    out = subprocess.run([sys.executable, "-c", _CRASHER, root, run], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == -signal.SIGKILL, out.stderr
    live = out.stdout.strip()
    assert count(live) == 1
    s = VolumeService(root, run)
    try:
        s.restore()
        assert count(live) == 1  # still mounted for its user, not mounted again
        assert count(s.local.path("orphan")) == 0  # nobody uses it: unmounted
        pins = Path(run, "volumes", "pins")
        assert os.listdir(pins) == ["ctr1"] and count(str(pins / "ctr1" / "0")) == 1
        assert Path(live, "state").read_text() == "alive"
        assert {d["Name"] for d in s.list()} == {"live", "orphan"}
        assert s.mount("live", "ctr1") == live and count(live) == 1
        s.restore()  # twice is harmless
        assert count(live) == 1
        container.teardown(s, "ctr1")
        assert count(live) == 0 and count(str(pins / "ctr1" / "0")) == 0
    finally:
        s.close()
