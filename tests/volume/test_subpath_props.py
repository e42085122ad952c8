"""Property test of the subpath resolver against the kernel's own path walk.

Random trees of directories and relative symlinks (with ``..`` in them)
inside a volume, and random subpaths. Whenever our resolver accepts, the
kernel's resolution (``os.path.realpath``) must name the same place and
that place must be inside the volume; whenever the kernel's resolution
leaves the volume, our resolver must refuse.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.volume.errors import InvalidMountSpec, UnsafePath
from dockyard.volume.resolve import open_subpath

NAMES = st.sampled_from(["a", "b", "c", "..", "."])
REL = st.lists(NAMES, min_size=1, max_size=5).map("/".join)
ENTRY = st.tuples(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3),
                  st.one_of(st.none(), REL))  # (path, None=dir | symlink target)


@settings(max_examples=60, deadline=None)
@given(entries=st.lists(ENTRY, max_size=8), subpath=REL)
def test_resolver_agrees_with_the_kernel_and_never_escapes(entries, subpath: str) -> None:
    top = tempfile.mkdtemp(prefix="dy-sp-", dir="/tmp")
    try:
        vol = os.path.join(top, "vol", "_data")
        os.makedirs(vol)
        for parts, target in entries:
            path = os.path.join(vol, *parts)
            parent = os.path.dirname(path)
            # build only through real directories of the volume, never through a link
            if not os.path.isdir(parent) or os.path.lexists(path) or \
                    os.path.realpath(parent) != os.path.join(vol, *parts[:-1]):
                continue
            if target is None:
                os.mkdir(path)
            else:
                os.symlink(target, path)
        for name in ("a", "b", "c"):  # something to find if a path escapes one level
            os.makedirs(os.path.join(top, "vol", name), exist_ok=True)
        kernel = os.path.realpath(os.path.join(vol, subpath))
        inside = kernel == vol or kernel.startswith(vol + "/")
        try:
            fd = open_subpath(vol, subpath)
        except (UnsafePath, InvalidMountSpec, OSError):
            return  # refusing is always allowed
        try:
            ours = os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        assert inside, f"accepted {subpath!r} but the kernel resolves it to {kernel}"
        assert ours == kernel
    finally:
        shutil.rmtree(top)
