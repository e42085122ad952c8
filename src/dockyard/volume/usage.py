"""Walking a volume's tree: its size (``system df -v``, ``prune``) and removing it.

Docker sums the apparent sizes of the files (``st_size``) under the
volume, counting a hardlinked inode once and never following a symlink.
Only local volumes have a size; plugin volumes report -1, as Docker does.

A volume's content is made by containers, so it can be deeper than
Python's recursion limit and longer than PATH_MAX: the size walk is
iterative and skips what it cannot reach, and removal uses GNU ``rm``
(fd-relative, any depth, ``--one-file-system`` so it never descends into
a mount that something left inside).
"""

from __future__ import annotations

import os
import stat
import subprocess

from .errors import VolumeError


def tree_size(path: str) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:  # gone, or deeper than PATH_MAX: not counted, like du's errors
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)
                    continue
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1:
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_size
    return total


def remove_tree(path: str) -> None:
    """``rm -rf --one-file-system path``; raises ``VolumeError`` if anything stays."""
    if not os.path.lexists(path):
        return
    done = subprocess.run(["rm", "-rf", "--one-file-system", "--", path], capture_output=True,
                          text=True)
    if done.returncode != 0 or os.path.lexists(path):
        raise VolumeError(f"removing {path}: {done.stderr.strip() or 'still there'}")
