"""Mount points all the way into a real container (dockyard-runtime, busybox).

The flow the engine will follow: parse ``-v``/``--mount`` → create/acquire
volumes → mount → copy-up from the image → pin subpaths → OCI mounts in
config.json → run → unmount/unpin. Afterwards nothing stays mounted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from dockyard.runtime.spec import default_spec_dict
from dockyard.volume import (
    InvalidParameter,
    MountPoint,
    VolumeService,
    container,
    parse_mount,
    parse_mount_flag,
    parse_volume,
)
from dockyard.volume.errors import UnsafePath
from dockyard.volume.mountinfo import under

RUNTIME = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")

SCRIPT = """
set -e
cat /app/seed                       # copied up from the image
echo written > /app/new
cat /sub/f                          # a pinned subpath of another volume
grep -q ' /scratch tmpfs ' /proc/mounts && grep ' /scratch ' /proc/mounts | grep -q size=1024k
if echo x > /hostro/y 2>/dev/null; then echo "ro bind was writable"; exit 1; fi
cat /hostro/hello
echo anon > /anon/a
"""


def test_volumes_in_a_container(svc: VolumeService, busybox_rootfs: Path, short_tmp: Path,
                                unique: str) -> None:
    os.chmod(busybox_rootfs, 0o755)
    (busybox_rootfs / "app").mkdir()
    (busybox_rootfs / "app" / "seed").write_text("from image\n")
    host = short_tmp / "hostdir"
    host.mkdir()
    (host / "hello").write_text("host file\n")
    svc.create("shared-src")
    sub = Path(svc.inspect("shared-src")["Mountpoint"], "a", "b")
    sub.mkdir(parents=True)
    (sub / "f").write_text("subpath file\n")

    cid = unique
    mps = [
        parse_volume("appdata:/app"),
        parse_mount(parse_mount_flag("type=volume,src=shared-src,dst=/sub,volume-subpath=a/b,ro")),
        parse_mount(parse_mount_flag("type=tmpfs,dst=/scratch,tmpfs-size=1m")),
        parse_volume(f"{host}:/hostro:ro"),
    ]
    # the image's VOLUMEs: /app is taken by -v above, /anon becomes anonymous
    mps += container.image_volumes({"/anon": {}, "/app": {}}, mps)
    assert [m.Destination for m in mps][-1:] == ["/anon"] and len(mps) == 5
    container.prepare(svc, cid, mps)
    anon = mps[4].Name
    assert svc.get(anon).Anonymous and svc.users("appdata") == [cid]
    mounts = container.setup(svc, cid, mps, str(busybox_rootfs))
    shown = container.inspect_mounts(svc, mps)
    assert shown[0] == {"Type": "volume", "Name": "appdata", "Destination": "/app",
                        "Source": svc.inspect("appdata")["Mountpoint"], "Driver": "local",
                        "Mode": "", "RW": True, "Propagation": ""}
    assert shown[3] == {"Type": "bind", "Source": str(host), "Destination": "/hostro",
                        "Mode": "ro", "RW": False, "Propagation": "rprivate"}
    # the record round-trips (the engine stores it in the container's config)
    assert msgspec.json.decode(msgspec.json.encode(mps), type=list[MountPoint]) == mps
    bundle = short_tmp / "bundle"
    bundle.mkdir()
    config = default_spec_dict(["sh", "-c", SCRIPT], terminal=False, rootfs=str(busybox_rootfs))
    config["mounts"].extend(msgspec.to_builtins(m) for m in mounts)
    (bundle / "config.json").write_text(json.dumps(config))
    try:
        out = subprocess.run([RUNTIME, "--root", str(short_tmp / "state"), "run", "--bundle",
                              str(bundle), cid], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.split("\n")[:3] == ["from image", "subpath file", "host file"]
    finally:
        container.teardown(svc, cid)
    assert under(str(short_tmp)) == []
    app = Path(svc.inspect("appdata")["Mountpoint"])
    assert (app / "new").read_text() == "written\n" and (app / "seed").exists()
    assert Path(svc.inspect(anon)["Mountpoint"], "a").read_text() == "anon\n"
    assert not (host / "y").exists()
    assert svc.prune()["VolumesDeleted"] == []  # still referenced by the container
    # --volumes-from: a second container sees the same volumes, read-only here
    again = container.volumes_from(mps, "ro")
    assert all(not m.RW and not m.CopyData for m in again)
    container.prepare(svc, "second", again)
    with_second = container.setup(svc, "second", again, str(busybox_rootfs))
    assert [m.destination for m in with_second] == ["/app", "/sub", "/scratch", "/hostro", "/anon"]
    assert all("ro" in (m.options or []) for m in with_second)
    container.teardown(svc, "second")
    # rm -v of the first keeps the anonymous volume: "second" still references it
    assert container.remove(svc, cid, mps, anonymous=True) == []
    assert container.remove(svc, "second", again, anonymous=True) == [anon]
    assert {d["Name"] for d in svc.list()} == {"appdata", "shared-src"}  # named ones stay
    assert under(str(short_tmp)) == []


def test_failed_setup_leaves_nothing_mounted(svc: VolumeService, busybox_rootfs: Path,
                                             short_tmp: Path) -> None:
    svc.create("tmpvol", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    svc.create("evil")
    Path(svc.inspect("evil")["Mountpoint"], "out").symlink_to("/etc")
    mps = [parse_volume("tmpvol:/t"),
           parse_mount(parse_mount_flag("type=volume,src=evil,dst=/e,volume-subpath=out"))]
    container.prepare(svc, "c1", mps)
    with pytest.raises(UnsafePath, match="absolute symlink"):
        container.setup(svc, "c1", mps, str(busybox_rootfs))
    assert under(str(short_tmp)) == []
    assert svc.store.mounts("tmpvol") == []
    container.remove(svc, "c1", mps)
    assert svc.users("tmpvol") == [] and svc.users("evil") == []


def test_failed_prepare_creates_nothing(svc: VolumeService) -> None:
    mps = [parse_volume("fine:/a"),
           parse_mount(parse_mount_flag("type=volume,src=broken,dst=/b,volume-opt=type=tmpfs"))]
    with pytest.raises(InvalidParameter, match="missing required option: 'device'"):
        container.prepare(svc, "c1", mps)
    assert svc.list() == []


def test_copy_up_resolves_the_target_inside_the_rootfs(svc: VolumeService, busybox_rootfs: Path,
                                                       short_tmp: Path) -> None:
    """An image whose VOLUME path is an absolute symlink copies from its own tree, never
    from the host's."""
    (busybox_rootfs / "data-real").mkdir()
    (busybox_rootfs / "data-real" / "marker").write_text("image side")
    (busybox_rootfs / "app").symlink_to("/data-real")
    (busybox_rootfs / "hostetc").symlink_to("../../../../../../etc")
    mps = container.image_volumes({"/app": {}, "/hostetc": {}}, [])
    container.prepare(svc, "c1", mps)
    try:
        container.setup(svc, "c1", mps, str(busybox_rootfs))
        app, hostetc = (Path(svc.inspect(m.Name)["Mountpoint"]) for m in mps)
        assert os.listdir(app) == ["marker"]
        # ../../.. is clamped at the rootfs: the busybox rootfs's /etc, not the host's
        assert not (hostetc / "shadow").exists() or \
            (hostetc / "shadow").read_bytes() != Path("/etc/shadow").read_bytes()
        assert sorted(os.listdir(hostetc)) == sorted(os.listdir(busybox_rootfs / "etc"))
    finally:
        container.remove(svc, "c1", mps, anonymous=True)
    assert svc.list() == []
