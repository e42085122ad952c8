"""Mount options as config.json spells them, turned into mount(2) arguments.

``parse_options(["nosuid", "ro", "rprivate", "size=64k"])`` →
``(MS_NOSUID|MS_RDONLY, [MS_PRIVATE|MS_REC], "size=64k")``: flags, the
propagation changes (each needs its own mount call), and the data string the
filesystem gets. Unknown words go to the data string, as in runc.
"""

from __future__ import annotations

from dockyard.linux import syscalls as sc

# option -> (clear the flag instead of setting it, flag)
FLAGS: dict[str, tuple[bool, int]] = {
    "ro": (False, sc.MS_RDONLY),
    "rw": (True, sc.MS_RDONLY),
    "nosuid": (False, sc.MS_NOSUID),
    "suid": (True, sc.MS_NOSUID),
    "nodev": (False, sc.MS_NODEV),
    "dev": (True, sc.MS_NODEV),
    "noexec": (False, sc.MS_NOEXEC),
    "exec": (True, sc.MS_NOEXEC),
    "sync": (False, sc.MS_SYNCHRONOUS),
    "async": (True, sc.MS_SYNCHRONOUS),
    "dirsync": (False, sc.MS_DIRSYNC),
    "remount": (False, sc.MS_REMOUNT),
    "mand": (False, sc.MS_MANDLOCK),
    "nomand": (True, sc.MS_MANDLOCK),
    "atime": (True, sc.MS_NOATIME),
    "noatime": (False, sc.MS_NOATIME),
    "diratime": (True, sc.MS_NODIRATIME),
    "nodiratime": (False, sc.MS_NODIRATIME),
    "relatime": (False, sc.MS_RELATIME),
    "norelatime": (True, sc.MS_RELATIME),
    "strictatime": (False, sc.MS_STRICTATIME),
    "nostrictatime": (True, sc.MS_STRICTATIME),
    "bind": (False, sc.MS_BIND),
    "rbind": (False, sc.MS_BIND | sc.MS_REC),
    "silent": (False, sc.MS_SILENT),
    "loud": (True, sc.MS_SILENT),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW),
    "symfollow": (True, sc.MS_NOSYMFOLLOW),
}

PROPAGATION: dict[str, int] = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

# Flags a bind remount must keep when they are locked (user namespaces) and
# the statvfs bits that report them.
ST_LOCKED = ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC))


def parse_options(options: list[str] | None) -> tuple[int, list[int], str]:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    for opt in options or ():
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in PROPAGATION:
            propagation.append(PROPAGATION[opt])
        else:
            data.append(opt)
    return flags, propagation, ",".join(data)


def locked_flags(path: str) -> int:
    """The flags of the mount holding ``path`` that a bind remount must repeat."""
    import os

    f_flag = os.statvfs(path).f_flag
    return sum(flag for bit, flag in ST_LOCKED if f_flag & bit)
