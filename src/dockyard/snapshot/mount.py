"""Mounts as snapshotters hand them out, and doing them for real.

A ``Mount`` is the OCI runtime spec's mount without its destination (the
caller picks the target), as containerd's ``mount.Mount``: ``bind`` mounts
of a directory, or one ``overlay`` mount whose options carry
``lowerdir=``/``upperdir=``/``workdir=``.

The overlay lowerdir trap: mount(2) copies its data argument into a single
page, so all options together must fit in 4095 bytes. With absolute paths
(``/var/lib/dockyard/snapshots/overlay/snapshots/123/fs`` ≈ 50 bytes each)
that is ~80 layers. Like containerd, when the options are too long we make
the lower dirs relative to their common parent and mount from there; a
process-wide ``chdir`` would race with other threads, so that one mount
runs in a child process (util-linux ``mount``) started in that directory.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

# dockyard.linux.syscalls loads libc through ctypes.util.find_library, which
# runs ``ldconfig -p`` (tens of ms): imported by the functions that mount,
# not by every command that only needs the ``Mount`` type.

PAGE_SIZE = 4096  # mount(2) data is copied into one page, NUL included

_FLAGS_CACHE: dict[str, tuple[int, bool]] = {}


def _flags() -> dict[str, tuple[int, bool]]:
    """Options that are mount flags, not filesystem data (mount(8)'s table)."""
    if not _FLAGS_CACHE:
        from dockyard.linux import syscalls

        _FLAGS_CACHE.update({
            "ro": (syscalls.MS_RDONLY, True),
            "rw": (syscalls.MS_RDONLY, False),
            "nosuid": (syscalls.MS_NOSUID, True),
            "suid": (syscalls.MS_NOSUID, False),
            "nodev": (syscalls.MS_NODEV, True),
            "dev": (syscalls.MS_NODEV, False),
            "noexec": (syscalls.MS_NOEXEC, True),
            "exec": (syscalls.MS_NOEXEC, False),
            "noatime": (syscalls.MS_NOATIME, True),
            "relatime": (syscalls.MS_RELATIME, True),
            "bind": (syscalls.MS_BIND, True),
            "rbind": (syscalls.MS_BIND | syscalls.MS_REC, True),
        })
    return _FLAGS_CACHE


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount: ``type`` ("bind", "overlay", …), ``source``, ``options``
    (mount(8) style: flags such as "ro"/"rbind" and fs data such as
    "lowerdir=…"). Field names follow the OCI runtime spec."""

    type: str
    source: str
    options: tuple[str, ...] = field(default=())

    def mount(self, target: str) -> None:
        """Mount on ``target`` (an existing directory). Raises OSError."""
        from dockyard.linux import syscalls

        flags, data = _parse_options(self.options)
        if self.type == "bind":
            flags |= syscalls.MS_BIND
        readonly = bool(flags & syscalls.MS_RDONLY)
        if flags & syscalls.MS_BIND:
            # A bind mount ignores MS_RDONLY (and other per-mount flags) on
            # the first call: they take effect only through a remount.
            syscalls.mount(self.source, target, None, flags & ~syscalls.MS_RDONLY, None)
            if readonly or flags & (syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC):
                try:
                    syscalls.mount(
                        None, target, None,
                        (flags & ~syscalls.MS_REC) | syscalls.MS_REMOUNT | syscalls.MS_BIND, None,
                    )
                except OSError:
                    syscalls.umount2(target, syscalls.MNT_DETACH)
                    raise
            return
        joined = ",".join(data)
        if self.type == "overlay" and len(joined) >= PAGE_SIZE:
            _mount_overlay_compact(self.source, target, flags, data)
            return
        syscalls.mount(self.source, target, self.type, flags, joined or None)

    @staticmethod
    def unmount(target: str) -> None:
        """Unmount what is mounted on ``target`` (see ``unmount``)."""
        unmount(target)

    def lowerdirs(self) -> list[str]:
        """The ``lowerdir=`` list of an overlay mount (top first)."""
        for opt in self.options:
            if opt.startswith("lowerdir="):
                return opt[len("lowerdir="):].split(":")
        return []

    def option(self, name: str) -> str | None:
        """The value of ``name=value`` in the options, or None."""
        prefix = name + "="
        for opt in self.options:
            if opt.startswith(prefix):
                return opt[len(prefix):]
        return None


def _parse_options(options: Sequence[str]) -> tuple[int, list[str]]:
    flags = 0
    data: list[str] = []
    for opt in options:
        if opt in _flags():
            bit, on = _flags()[opt]
            flags = flags | bit if on else flags & ~bit
        else:
            data.append(opt)
    return flags, data


def _mount_overlay_compact(source: str, target: str, flags: int, data: list[str]) -> None:
    lowers: list[str] = []
    rest: list[str] = []
    for opt in data:
        if opt.startswith("lowerdir="):
            lowers = opt[len("lowerdir="):].split(":")
        else:
            rest.append(opt)
    common = os.path.commonpath(lowers) if lowers else "/"
    # Each lower is .../snapshots/<id>/fs: the common parent is the
    # snapshots dir, and "<id>/fs" is a few bytes.
    rel = [os.path.relpath(p, common) for p in lowers]
    joined = ",".join([*rest, "lowerdir=" + ":".join(rel)])
    if len(joined) >= PAGE_SIZE:
        raise OSError(
            errno.E2BIG,
            f"overlay mount options are {len(joined)} bytes even with relative lower dirs "
            f"({len(lowers)} layers); the kernel takes at most {PAGE_SIZE - 1}",
        )
    cmd = ["mount", "-t", "overlay", "-o", joined]
    from dockyard.linux import syscalls

    for name, (bit, on) in _flags().items():
        if on and bit in (syscalls.MS_RDONLY, syscalls.MS_NOSUID, syscalls.MS_NODEV,
                          syscalls.MS_NOEXEC) and flags & bit:
            cmd[-1] += "," + name
    cmd += [source, os.path.abspath(target)]
    proc = subprocess.run(cmd, cwd=common, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise OSError(errno.EIO, f"mount overlay on {target!r} ({len(lowers)} layers) failed: "
                                 f"{proc.stderr.strip()}")


def is_mountpoint(target: str) -> bool:
    """Whether ``target`` is a mount point, from /proc/self/mountinfo."""
    real = os.path.realpath(target)
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            if _unescape(line.split()[4]) == real:
                return True
    return False


def _unescape(raw: bytes) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo (octal).
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and raw[i + 1 : i + 4].isdigit() and len(raw[i + 1 : i + 4]) == 3:
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return os.fsdecode(bytes(out))


def mount_all(mounts: Sequence[Mount], target: str) -> None:
    """Mount each in order on ``target``; on failure undo what was done."""
    done = 0
    try:
        for m in mounts:
            m.mount(target)
            done += 1
    except BaseException:
        for _ in range(done):
            unmount(target)
        raise


def unmount(target: str) -> None:
    """Unmount the top mount on ``target``; a busy mount is detached lazily
    (it goes away when its last user does)."""
    from dockyard.linux import syscalls

    try:
        syscalls.umount2(target, syscalls.UMOUNT_NOFOLLOW)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise
        syscalls.umount2(target, syscalls.MNT_DETACH | syscalls.UMOUNT_NOFOLLOW)


def unmount_all(target: str) -> None:
    """Unmount everything stacked on ``target`` (no error if nothing is)."""
    for _ in range(64):
        try:
            unmount(target)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return
            raise
    raise OSError(errno.EBUSY, f"{target!r} still mounted after 64 unmounts")
