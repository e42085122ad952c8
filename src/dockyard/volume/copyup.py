"""Copy-up: fill a new, empty volume with what the image has at the mount target.

Docker's rule (``copyExistingContents``): when a volume is mounted over a
directory of the image and the volume is empty (and ``nocopy`` was not
asked for), the image's files are copied in first, so ``-v data:/var/lib/x``
starts with the image's ``/var/lib/x``. The volume's root takes the owner
and mode of the image directory.

The copy keeps what a layer keeps: owners, modes (setuid included, set
after chown which would clear it), timestamps, extended attributes
(``security.capability``, ``user.*``, …), symlinks as symlinks, hardlinks as
hardlinks (within the copied tree), device nodes and fifos; sockets are
skipped. It never follows a symlink of the source: a rootfs is untrusted,
and a link to ``/etc`` must be copied as a link, not as the host's ``/etc``.
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import VolumeError
from .usage import remove_tree


def is_empty(path: str) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of directory ``src`` into the existing directory ``dst``.

    Iterative, not recursive: an image may nest deeper than Python's stack.
    A directory's metadata is applied after its contents (adding entries
    would change its mtime), so directories go on a second stack.
    """
    links: dict[tuple[int, int], str] = {}
    todo = [(src, dst)]
    dirs_done: list[tuple[str, str, os.stat_result]] = [(src, dst, os.lstat(src))]
    while todo:
        sdir, ddir = todo.pop()
        with os.scandir(sdir) as it:
            names = [e.name for e in it]
        for name in names:
            s, d = os.path.join(sdir, name), os.path.join(ddir, name)
            st = os.lstat(s)
            mode = st.st_mode
            key = (st.st_dev, st.st_ino)
            if stat.S_ISDIR(mode):
                os.mkdir(d, 0o700)
                todo.append((s, d))
                dirs_done.append((s, d, st))
                continue
            if st.st_nlink > 1 and key in links:
                os.link(links[key], d, follow_symlinks=False)
                continue
            if stat.S_ISREG(mode):
                _copy_file(s, d)
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(s), d)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
                os.mknod(d, mode, st.st_rdev)
            else:
                continue  # sockets: nothing to copy, as Docker's copier skips them
            if st.st_nlink > 1:
                links[key] = d
            _copy_meta(s, d, st)
    # deepest first, so setting a parent's times comes after its children changed it
    for s, d, st in reversed(dirs_done):
        _copy_meta(s, d, st)


def _copy_file(s: str, d: str) -> None:
    fin = os.open(s, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fout = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                       0o600)
        try:
            size = os.fstat(fin).st_size
            copied = 0
            while copied < size:
                try:
                    n = os.copy_file_range(fin, fout, size - copied)
                except OSError as e:
                    if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                        raise
                    n = os.sendfile(fout, fin, None, size - copied)
                if n == 0:
                    break
                copied += n
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _copy_meta(s: str, d: str, st: os.stat_result) -> None:
    link = stat.S_ISLNK(st.st_mode)
    try:
        names = os.listxattr(s, follow_symlinks=False)
    except OSError as e:
        if e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        names = []
    os.chown(d, st.st_uid, st.st_gid, follow_symlinks=False)
    for name in names:
        try:
            os.setxattr(d, name, os.getxattr(s, name, follow_symlinks=False),
                        follow_symlinks=False)
        except OSError as e:
            # user.* xattrs cannot be set on symlinks; tmpfs may refuse some
            # namespaces: the copy goes on, like Docker's copier does.
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
    if not link:
        # chmod last: chown clears setuid/setgid bits (and security.capability,
        # which is why the xattrs come after chown too).
        os.chmod(d, stat.S_IMODE(st.st_mode))
    os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def populate(volume_path: str, source: str) -> bool:
    """Copy ``source`` (an image directory) into ``volume_path`` if the volume is empty.

    Returns True if it copied. ``source`` must be a real directory (not a
    symlink): the caller resolves it inside the rootfs first. On failure
    the volume is emptied again, so a retry sees a new volume.
    """
    try:
        st = os.lstat(source)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if not is_empty(volume_path):
        return False
    try:
        copy_tree(source, volume_path)
    except OSError as e:
        _empty(volume_path)
        raise VolumeError(f"copy-up of {source} into volume at {volume_path} failed: {e}") from e
    return True


def _empty(path: str) -> None:
    for name in os.listdir(path):
        remove_tree(os.path.join(path, name))
