"""From validated mount points to OCI ``Mount`` entries, resolving host paths safely.

**Bind sources.** Docker hands the source path to mount(2) as given; the
kernel follows any symlink in it, so ``-v /tmp/link:/data`` mounts
whatever ``link`` points at when the container starts (and ``-v`` creates a
missing source with MkdirAll, following symlinks too). We resolve the
symlinks explicitly, up front, and put the *resolved* path in config.json,
so what gets mounted is what ``Source`` says. A ``-v`` source that is, or
passes through, a dangling symlink is refused instead of creating a
directory wherever the link points.

**Volume subpaths** (``--mount type=volume,volume-subpath=a/b``) must stay
inside the volume, whatever the volume's owner put there: ``..`` that
climbs out, absolute symlinks, relative symlinks that lead out, and
symlinks swapped in between check and use are all refused. ``pin_subpath``
walks the path one component at a time with ``O_PATH|O_NOFOLLOW`` from a
descriptor of the volume's root, checks where the final descriptor really
is, and bind-mounts *that descriptor* (``/proc/self/fd/N``) onto a private
pin under ``<run-root>/volumes/pins``; config.json names the pin, so the
runtime never re-resolves the untrusted path (Docker's ``safepath`` does
the same). ``unpin`` removes it.
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.linux import syscalls
from dockyard.oci.runtime import Mount as OCIMount

from . import mountinfo
from .errors import InvalidMountSpec, UnsafePath, VolumeError
from .mountspec import DEFAULT_PROPAGATION, MountPoint, tmpfs_data

MAX_LINKS = 40  # the kernel's MAXSYMLINKS


def resolve_bind_source(mp: MountPoint) -> str:
    """The real host path to bind for ``mp`` (creating a ``-v`` source that is missing)."""
    src = os.path.abspath(mp.Source)
    if not os.path.exists(src):
        if os.path.lexists(src) or _dangling_component(src):
            raise UnsafePath(f"bind source path {src} is or passes through a dangling symlink "
                             f"(to {os.path.realpath(src)}); refusing to create it")
        if not mp.CreateSource and not (mp.Spec.BindOptions and
                                        mp.Spec.BindOptions.CreateMountpoint):
            raise InvalidMountSpec(f'invalid mount config for type "bind": '
                                   f"bind source path does not exist: {src}")
        os.makedirs(src, mode=0o755, exist_ok=True)
    return os.path.realpath(src)


def _dangling_component(path: str) -> bool:
    cur = "/"
    for part in [p for p in path.split("/") if p]:
        cur = os.path.join(cur, part)
        if os.path.islink(cur) and not os.path.exists(cur):
            return True
        if not os.path.lexists(cur):
            return False
    return False


def _walk(root_fd: int, root: str, subpath: str) -> int:
    """An O_PATH descriptor of ``subpath`` inside the directory ``root_fd``; never escapes."""
    pending = [p for p in subpath.split("/") if p not in ("", ".")]
    pending.reverse()
    stack = [os.dup(root_fd)]  # descriptors of the directories walked, root first
    links = 0
    try:
        while pending:
            part = pending.pop()
            if part == "..":
                if len(stack) == 1:
                    raise UnsafePath(f"volume subpath {subpath!r} escapes the volume")
                os.close(stack.pop())
                continue
            try:
                fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            except FileNotFoundError:
                raise InvalidMountSpec(f"volume subpath {subpath!r}: no such file or directory "
                                       "in the volume") from None
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                # Read the very link we opened (readlinkat(fd, "")), not the
                # name again: a swapped-in rename between the two would make
                # the name point elsewhere, or nowhere.
                try:
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                links += 1
                if links > MAX_LINKS:
                    raise UnsafePath(f"volume subpath {subpath!r}: too many symlinks")
                if target.startswith("/"):
                    raise UnsafePath(f"volume subpath {subpath!r}: {part!r} is an absolute "
                                     f"symlink ({target}), which would leave the volume")
                pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise InvalidMountSpec(f"volume subpath {subpath!r}: {part!r} is not a directory")
            stack.append(fd)
        final = stack.pop()
        real = os.readlink(f"/proc/self/fd/{final}")
        if not (real == root or real.startswith(root.rstrip("/") + "/")):
            os.close(final)
            raise UnsafePath(f"volume subpath {subpath!r} resolves outside the volume ({real})")
        return final
    finally:
        for fd in stack:
            os.close(fd)


def open_subpath(volume_path: str, subpath: str) -> int:
    """An ``O_PATH`` descriptor of ``subpath`` inside ``volume_path``; the caller closes it.

    Raises ``UnsafePath`` when any step would leave the volume.
    """
    root = os.path.realpath(volume_path)
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _walk(root_fd, root, subpath)
    finally:
        os.close(root_fd)


def pin_subpath(volume_path: str, subpath: str, pin: str) -> str:
    """Bind ``volume_path/subpath`` (resolved safely) onto ``pin``; returns ``pin``.

    ``pin`` must not exist; it is created as a directory or an empty file
    to match what it pins.
    """
    fd = open_subpath(volume_path, subpath)
    try:
        os.makedirs(os.path.dirname(pin), mode=0o700, exist_ok=True)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.mkdir(pin, 0o700)
        else:
            os.close(os.open(pin, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        try:
            syscalls.mount(f"/proc/self/fd/{fd}", pin, None, syscalls.MS_BIND | syscalls.MS_REC)
            syscalls.mount(None, pin, None, syscalls.MS_PRIVATE | syscalls.MS_REC)
        except OSError as e:
            unpin(pin)
            raise VolumeError(f"pinning volume subpath {subpath!r}: {e}") from None
    finally:
        os.close(fd)
    return pin


def unpin(pin: str) -> None:
    for _ in range(mountinfo.count(pin)):
        try:
            syscalls.umount2(pin, syscalls.MNT_DETACH)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
    try:
        if os.path.isdir(pin) and not os.path.islink(pin):
            os.rmdir(pin)
        elif os.path.lexists(pin):
            os.unlink(pin)
    except FileNotFoundError:
        pass


def to_oci_mount(mp: MountPoint, source: str = "") -> OCIMount:
    """The config.json entry for ``mp``; ``source`` is the resolved host path (bind/volume).

    Binds and volumes: ``rbind`` (``bind`` with ``bind-recursive=disabled``),
    the propagation (``rprivate`` by default), ``ro`` when read-only. tmpfs:
    Docker's ``noexec,nosuid,nodev`` plus ``size=``/``mode=``.
    """
    if mp.Type == "tmpfs":
        data = tmpfs_data(mp.Spec.TmpfsOptions, not mp.RW)
        return OCIMount(destination=mp.Destination, type="tmpfs", source="tmpfs",
                        options=["noexec", "nosuid", "nodev", *data])
    if mp.Type not in ("bind", "volume"):
        raise InvalidMountSpec(f"mount type unknown: {mp.Type!r}")
    if not source:
        raise InvalidMountSpec(f"mount {mp.Destination}: no resolved source")
    b = mp.Spec.BindOptions
    if b and b.ReadOnlyForceRecursive:
        raise InvalidMountSpec("bind-recursive=readonly needs recursive read-only mounts "
                               "(mount_setattr), which this runtime does not do; use "
                               "bind-recursive=writable or disabled")
    opts = ["bind" if b and b.NonRecursive else "rbind", mp.Propagation or DEFAULT_PROPAGATION]
    if not mp.RW:
        opts.append("ro")
    return OCIMount(destination=mp.Destination, type="bind", source=source, options=opts)
