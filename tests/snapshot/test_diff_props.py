"""Property: for random trees and random changes, apply(diff(x)) == x —
by double walk on plain directories, and through a real overlay mount."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snapshot_helpers import tree_state

from dockyard.snapshot import Mount, apply_layer, diff, mount_all, unmount_all

pytestmark = pytest.mark.needs_root

NAMES = st.sampled_from(["a", "b", "c", "d.txt", "ä", "-x", ".hidden", "z z"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)

# One operation on a tree: (verb, path, argument).
OPS = st.one_of(
    st.tuples(st.just("file"), PATHS, st.binary(max_size=64)),
    st.tuples(st.just("mkdir"), PATHS, st.sampled_from([0o755, 0o700, 0o1777])),
    st.tuples(st.just("symlink"), PATHS, st.sampled_from(["/nonexistent/x", "../a", "b", "a"])),
    st.tuples(st.just("hardlink"), PATHS, PATHS),
    st.tuples(st.just("rm"), PATHS, st.none()),
    st.tuples(st.just("chmod"), PATHS, st.sampled_from([0o600, 0o4755, 0o640])),
    st.tuples(st.just("chown"), PATHS, st.sampled_from([(1, 2), (1000, 1000), (0, 0)])),
    st.tuples(st.just("xattr"), PATHS, st.binary(min_size=1, max_size=8)),
)


def _apply_op(root: str, op: tuple[str, str, object]) -> None:
    verb, rel, arg = op
    p = os.path.join(root, rel)
    parent = os.path.dirname(p)
    real = os.path.realpath(parent)
    if real != os.path.realpath(root) and not real.startswith(os.path.realpath(root) + "/"):
        return  # through a symlink out of the tree: not a change to it
    try:
        if verb in ("file", "mkdir", "symlink", "hardlink"):
            os.makedirs(parent, exist_ok=True)
            if os.path.lexists(p):
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
        if verb == "file":
            Path(p).write_bytes(arg)  # type: ignore[arg-type]
        elif verb == "mkdir":
            os.mkdir(p, arg)  # type: ignore[arg-type]
        elif verb == "symlink":
            os.symlink(arg, p)  # type: ignore[arg-type]
        elif verb == "hardlink":
            src = os.path.join(root, arg)  # type: ignore[arg-type]
            if os.path.isfile(src) and not os.path.islink(src):
                os.link(src, p)
        elif verb == "rm" and os.path.lexists(p):
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        elif verb == "chmod" and os.path.lexists(p) and not os.path.islink(p):
            os.chmod(p, arg)  # type: ignore[arg-type]
        elif verb == "chown" and os.path.lexists(p):
            os.chown(p, *arg, follow_symlinks=False)  # type: ignore[misc]
        elif verb == "xattr" and os.path.lexists(p) and not os.path.islink(p):
            os.setxattr(p, "user.t", arg)  # type: ignore[arg-type]
    except OSError:
        pass  # the random path runs through a file or a link loop: skip the op


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(base=st.lists(OPS, max_size=12), change=st.lists(OPS, max_size=12))
def test_double_walk_round_trip(base: list[tuple[str, str, object]],
                                change: list[tuple[str, str, object]]) -> None:
    with tempfile.TemporaryDirectory(prefix="dy-prop-") as tmp:
        lower, upper, again = (os.path.join(tmp, n) for n in ("lower", "upper", "again"))
        os.mkdir(lower)
        for op in base:
            _apply_op(lower, op)
        for d in (upper, again):
            subprocess.run(["cp", "-a", lower, d], check=True)
        for op in change:
            _apply_op(upper, op)
        out = io.BytesIO()
        diff(lower, upper, out, compression="none")
        apply_layer(io.BytesIO(out.getvalue()), again)
        assert tree_state(again) == tree_state(upper)


@SETTINGS
@given(base=st.lists(OPS, max_size=12), change=st.lists(OPS, max_size=12))
def test_overlay_round_trip(base: list[tuple[str, str, object]],
                            change: list[tuple[str, str, object]]) -> None:
    with tempfile.TemporaryDirectory(prefix="dy-prop-") as tmp:
        d = {n: os.path.join(tmp, n) for n in ("lower", "u1", "w1", "u2", "w2", "m1", "m2")}
        for p in d.values():
            os.mkdir(p)
        for op in base:
            _apply_op(d["lower"], op)

        def ovl(u: str, w: str) -> Mount:
            return Mount("overlay", "overlay",
                         ("index=off", f"lowerdir={d['lower']}", f"upperdir={u}", f"workdir={w}"))

        first = ovl(d["u1"], d["w1"])
        mount_all([first], d["m1"])
        try:
            for op in change:
                _apply_op(d["m1"], op)
            expected = tree_state(d["m1"])
        finally:
            unmount_all(d["m1"])
        out = io.BytesIO()
        diff([Mount("bind", d["lower"], ("ro", "rbind"))], [first], out, compression="none")
        apply_layer(io.BytesIO(out.getvalue()), d["u2"], whiteouts="overlay", lowers=[d["lower"]])
        mount_all([ovl(d["u2"], d["w2"])], d["m2"])
        try:
            assert tree_state(d["m2"]) == expected
        finally:
            unmount_all(d["m2"])
