"""The container's root filesystem, set up by ``[2:INIT]`` in its mount namespace.

Order (each step depends on the one before):

1. ``/`` becomes rslave (or rprivate) recursively, so nothing we mount
   propagates back to the host.
2. The rootfs is bind-mounted onto itself: pivot_root needs a mount point.
3. ``mounts`` in config order; every destination resolved inside the rootfs
   (``securejoin``) and mounted through a verified ``/proc/self/fd/N``.
4. Default devices (/dev/null, zero, full, random, urandom, tty), then
   ``linux.devices``; mknod, or a bind of the host node in a user namespace
   (where mknod is not allowed). The /dev symlinks (fd, stdin, stdout,
   stderr, ptmx).
5. (``[2:INIT]`` runs the prestart/createRuntime/createContainer hooks here.)
6. pivot_root, or MS_MOVE + chroot when pivot_root cannot work (the host
   root is a ramfs/rootfs, or ``--no-pivot``).
7. After the pivot: rootfsPropagation, sysctls, readonly paths, masked
   paths, hostname/domainname, and the root remounted read-only last
   (everything before needs to write).
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.linux import syscalls as sc

from . import config
from .errors import InvalidConfig, ProcessSetupError
from .mounts import PROPAGATION, locked_flags, parse_options
from .securejoin import open_in_root, secure_join

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.oci.runtime import LinuxDevice, Mount, Spec

DEFAULT_DEVICES: tuple[tuple[str, int, int], ...] = (
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
)

DEV_SYMLINKS: tuple[tuple[str, str], ...] = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)

# Only these sysctls are per-namespace (runc's validate/sysctl list).
_IPC_SYSCTLS = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}


def check_sysctls(spec: Spec, namespaces: set[str]) -> None:
    """Refuse sysctls that would change the host (runc's rule), at create time."""
    for key in (spec.linux.sysctl if spec.linux and spec.linux.sysctl else {}):
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if "ipc" not in namespaces:
                raise InvalidConfig(f"sysctl {key!r} is not allowed in the host's ipc namespace")
        elif key.startswith("net."):
            if "network" not in namespaces:
                raise InvalidConfig(f"sysctl {key!r} is not allowed in the host's network namespace")
        elif key in ("kernel.hostname", "kernel.domainname"):
            raise InvalidConfig(f"sysctl {key!r} is not allowed: use the hostname/domainname fields")
        else:
            raise InvalidConfig(f"sysctl {key!r} is not in a separate kernel namespace")


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def mount_one(rootfs: str, bundle: str, m: Mount, cgroups: list[str], in_userns: bool) -> None:
    flags, propagation, data = parse_options(m.options)
    is_bind = bool(flags & sc.MS_BIND) or m.type == "bind"
    where = f"mount {m.destination!r}"
    if not m.destination.startswith("/"):
        raise ProcessSetupError(f"{where}: destination must be an absolute path")
    if is_bind:
        source = m.source or ""
        if not source.startswith("/"):
            source = os.path.join(bundle, source)
        try:
            st = os.stat(source)
        except OSError as e:
            raise ProcessSetupError(f"{where}: bind source {source!r}: {e.strerror}") from None
        fd = open_in_root(rootfs, m.destination, create="dir" if stat.S_ISDIR(st.st_mode) else "file")
        try:
            sc.mount(source, _fd_path(fd), None, sc.MS_BIND | (flags & sc.MS_REC))
        finally:
            os.close(fd)
        target = secure_join(rootfs, m.destination)
        extra = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
        if extra:
            # A bind mount ignores flags; a remount applies them. Locked flags
            # (user namespaces) must be repeated or the remount is refused.
            sc.mount(None, target, None,
                     sc.MS_REMOUNT | sc.MS_BIND | extra | (locked_flags(target) if in_userns else 0))
    elif m.type == "cgroup":
        target = secure_join(rootfs, m.destination)
        fd = open_in_root(rootfs, m.destination, create="dir")
        os.close(fd)
        _mount_cgroup(target, flags, cgroups)
    else:
        fd = open_in_root(rootfs, m.destination, create="dir")
        try:
            sc.mount(m.source or m.type or "none", _fd_path(fd), m.type, flags & ~sc.MS_REMOUNT,
                     data or None)
        finally:
            os.close(fd)
        target = secure_join(rootfs, m.destination)
    for prop in propagation:
        sc.mount(None, target, None, prop)


def _cgroup_mountpoints() -> dict[str, tuple[str, str]]:
    """Hierarchy key (``cpu,cpuacct``, ``name=systemd`` or ``""`` for v2) → (mount root, mount point)."""
    out: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            fstype = rfields[0]
            if fstype == "cgroup2":
                out.setdefault("", (fields[3], fields[4]))
            elif fstype == "cgroup":
                opts = [o for o in rfields[2].split(",") if o not in ("rw", "ro")]
                out.setdefault(",".join(sorted(opts)), (fields[3], fields[4]))
    return out


def _mount_cgroup(target: str, flags: int, cgroups: list[str]) -> None:
    """The container's own view of each hierarchy, bind-mounted from the host.

    ``cgroups`` are the init's /proc/PID/cgroup lines as the host sees them.
    On a v1 or hybrid host: a tmpfs with one directory per hierarchy, each a
    bind of the container's cgroup (so the container sees its cgroup as the
    root, whether or not it has a cgroup namespace), co-mounted controllers
    linked (``cpu -> cpu,cpuacct``) and cgroup2 under ``unified``. On a pure
    v2 host: one bind of the container's cgroup2 directory.
    """
    points = _cgroup_mountpoints()
    ro = flags & sc.MS_RDONLY
    base = flags & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    v1 = [line for line in cgroups if line.split(":", 2)[1]]
    if not v1 and "" in points:
        mroot, mpoint = points[""]
        path = cgroups[0].split(":", 2)[2] if cgroups else "/"
        _bind_cgroup(mpoint, mroot, path, target, base | ro)
        return
    sc.mount("tmpfs", target, "tmpfs", base, "mode=755")
    for line in cgroups:
        _, ctrls, path = line.split(":", 2)
        key = ",".join(sorted(ctrls.split(","))) if ctrls else ""
        if key not in points:
            continue
        name = ctrls.replace("name=", "") if ctrls else "unified"
        dest = os.path.join(target, name)
        os.makedirs(dest, exist_ok=True)
        mroot, mpoint = points[key]
        _bind_cgroup(mpoint, mroot, path, dest, base | ro)
        if "," in ctrls and not ctrls.startswith("name="):
            for c in ctrls.split(","):
                link = os.path.join(target, c)
                if not os.path.lexists(link):
                    os.symlink(ctrls, link)
    if ro:
        sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_RDONLY | base)


def _bind_cgroup(mpoint: str, mroot: str, path: str, dest: str, flags: int) -> None:
    rel = os.path.relpath(path, mroot) if path.startswith(mroot) else path.lstrip("/")
    source = os.path.normpath(os.path.join(mpoint, rel))
    if not os.path.isdir(source):
        source = mpoint
    sc.mount(source, dest, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(None, dest, None, sc.MS_REMOUNT | sc.MS_BIND | flags)


def make_devices(rootfs: str, devices: list[LinuxDevice] | None, in_userns: bool) -> None:
    old = os.umask(0)
    try:
        wanted: list[LinuxDevice] = [
            config.new("LinuxDevice", path=p, type="c", major=ma, minor=mi, file_mode=0o666, uid=0, gid=0)
            for p, ma, mi in DEFAULT_DEVICES]
        given = {d.path for d in devices or ()}
        wanted = [d for d in wanted if d.path not in given] + list(devices or ())
        for dev in wanted:
            _make_device(rootfs, dev, in_userns)
        for src, link in DEV_SYMLINKS:
            path = secure_join(rootfs, link)
            if not os.path.lexists(path) and os.path.isdir(os.path.dirname(path)):
                os.symlink(src, path)
        if os.path.exists("/proc/kcore"):
            path = secure_join(rootfs, "/dev/core")
            if not os.path.lexists(path) and os.path.isdir(os.path.dirname(path)):
                os.symlink("/proc/kcore", path)
        ptmx = secure_join(rootfs, "/dev/ptmx")
        if os.path.isdir(secure_join(rootfs, "/dev/pts")):
            if os.path.lexists(ptmx):
                os.unlink(ptmx)
            os.symlink("pts/ptmx", ptmx)
    finally:
        os.umask(old)


def _make_device(rootfs: str, dev: LinuxDevice, in_userns: bool) -> None:
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    if dev.type not in kinds:
        raise ProcessSetupError(f"device {dev.path!r}: unknown type {dev.type!r}")
    path = secure_join(rootfs, dev.path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            raise ProcessSetupError(f"device {dev.path!r}: a directory is in the way")
        os.unlink(path)
    if in_userns:
        # mknod is refused in a user namespace: bind the host's node instead.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o000))
        fd = open_in_root(rootfs, dev.path)
        try:
            sc.mount(dev.path, _fd_path(fd), None, sc.MS_BIND)
        finally:
            os.close(fd)
        return
    mode = (dev.file_mode if dev.file_mode is not None else 0o666) & 0o7777
    os.mknod(path, mode | kinds[dev.type], os.makedev(dev.major or 0, dev.minor or 0))
    os.chown(path, dev.uid or 0, dev.gid or 0)


def prepare(spec: Spec, rootfs: str, bundle: str, cgroups: list[str], in_userns: bool) -> None:
    """Steps 1-4: everything before the hooks and pivot_root."""
    linux = spec.linux
    prop = linux.rootfs_propagation if linux else None
    base = sc.MS_PRIVATE | sc.MS_REC if prop in ("private", "rprivate") else sc.MS_SLAVE | sc.MS_REC
    sc.mount(None, "/", None, base)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)
    for m in spec.mounts or ():
        try:
            mount_one(rootfs, bundle, m, cgroups, in_userns)
        except OSError as e:
            raise ProcessSetupError(f"mount {m.destination!r} (type {m.type}): {e.strerror or e}") from None
    make_devices(rootfs, linux.devices if linux else None, in_userns)


def _host_root_is_ramfs() -> bool:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                fstype = line.partition(" - ")[2].split()[0]
                return fstype in ("rootfs", "ramfs")
    return False


def pivot(rootfs: str, no_pivot: bool = False) -> str:
    """Step 6; returns how (``pivot_root`` or ``move``)."""
    if not no_pivot and not _host_root_is_ramfs():
        oldroot = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        newroot = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchdir(newroot)
            try:
                # pivot_root(".", ".") stacks the old root under the new one;
                # we then detach it from where we stand (runc's trick: no
                # temporary directory in the rootfs).
                sc.pivot_root(".", ".")
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
            else:
                os.fchdir(oldroot)
                sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
                sc.umount2(".", sc.MNT_DETACH)
                os.chdir("/")
                return "pivot_root"
        finally:
            os.close(oldroot)
            os.close(newroot)
    os.chdir(rootfs)
    sc.mount(rootfs, "/", None, sc.MS_MOVE)
    os.chroot(".")
    os.chdir("/")
    return "move"


def finalize(spec: Spec, in_userns: bool) -> None:
    """Step 7, inside the new root."""
    linux = spec.linux
    if linux and linux.rootfs_propagation and linux.rootfs_propagation in PROPAGATION:
        sc.mount(None, "/", None, PROPAGATION[linux.rootfs_propagation])
    for key, value in (linux.sysctl or {}).items() if linux else ():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise ProcessSetupError(f"sysctl {key}={value!r}: {e.strerror}") from None
    for path in (linux.readonly_paths or ()) if linux else ():
        try:
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        except FileNotFoundError:
            continue
        sc.mount(None, path, None,
                 sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC | locked_flags(path))
    for path in (linux.masked_paths or ()) if linux else ():
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISDIR(st.st_mode):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    if spec.hostname:
        sc.sethostname(spec.hostname)
    if spec.domainname:
        sc.setdomainname(spec.domainname)
    if spec.root and spec.root.readonly:
        sc.mount(None, "/", None,
                 sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | (locked_flags("/") if in_userns else 0))
