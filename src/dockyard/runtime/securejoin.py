"""Resolve a path inside a root directory as if that directory were ``/``.

Mount destinations in config.json are container paths. Joining them to the
rootfs with ``os.path.join`` and letting the kernel follow symlinks would let
a rootfs (an image anyone can build) point a mount anywhere on the host: the
CVE-2021-30465 class. ``secure_join`` walks the path one component at a time,
reading each symlink and re-rooting absolute targets at ``root``, and clamps
``..`` at ``root``, so the result is always ``root`` or below it.

``open_in_root`` closes the remaining race (a symlink swapped between the
walk and the use): it opens the result with ``O_PATH|O_NOFOLLOW`` and checks
where the descriptor really points through ``/proc/self/fd``; callers mount
onto ``/proc/self/fd/N`` instead of the path string, as runc does.
"""

from __future__ import annotations

import errno
import os
import stat

MAX_SYMLINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    """``root`` joined with ``unsafe``, every symlink resolved inside ``root``.

    Components that do not exist are appended lexically (``..`` still clamps),
    so the result is where a new file or directory should be created.

    >>> secure_join("/rootfs", "/../../etc")
    '/rootfs/etc'
    """
    root = os.path.abspath(root)
    pending = [p for p in unsafe.split("/") if p not in ("", ".")]
    pending.reverse()  # a stack: the next component is at the end
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        full = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, f"too many symlinks resolving {unsafe!r} in {root!r}")
        target = os.readlink(full)
        if target.startswith("/"):
            resolved = []
        more = [p for p in target.split("/") if p not in ("", ".")]
        pending.extend(reversed(more))
    return os.path.join(root, *resolved) if resolved else root


def is_within(root: str, path: str) -> bool:
    root = os.path.abspath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def open_in_root(root: str, unsafe: str, *, create: str | None = None, mode: int = 0o755) -> int:
    """An ``O_PATH`` descriptor for ``unsafe`` inside ``root``, verified.

    ``create`` is ``"dir"`` or ``"file"`` to make a missing target (and its
    parents, all inside ``root``). Raises ``PermissionError`` if the
    descriptor ends up outside ``root`` (a symlink raced in).
    """
    path = secure_join(root, unsafe)
    if create is not None and not os.path.lexists(path):
        parent = path if create == "dir" else os.path.dirname(path)
        os.makedirs(parent, mode=mode, exist_ok=True)
        if create == "file":
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644))
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    real = os.readlink(f"/proc/self/fd/{fd}")
    if not is_within(root, real):
        os.close(fd)
        raise PermissionError(
            errno.EXDEV, f"{unsafe!r} resolves outside the container root ({real!r})"
        )
    return fd
