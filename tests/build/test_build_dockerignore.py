""".dockerignore with Docker's rules; docker-py's ``exclude_paths`` is the oracle."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from dockyard.build.dockerignore import Matcher, parse_patterns
from dockyard.build.errors import ContextError

CTX = Path(__file__).parent / "dockerignore" / "ctx"


def _all_files(root: Path) -> set[str]:
    out = set()
    for d, _dirs, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def test_matcher_agrees_with_docker_py() -> None:
    patterns = (CTX / ".dockerignore").read_text().splitlines()
    patterns = [p for p in patterns if p and not p.startswith("#")]
    kept_by_docker = set(exclude_paths(str(CTX), patterns))
    m = Matcher(parse_patterns((CTX / ".dockerignore").read_text()))
    ours = {p for p in _all_files(CTX) if not m.matches(p)}
    assert ours == {p for p in kept_by_docker if (CTX / p).is_file()}
    assert "keep.log" in ours and "a.log" not in ours and "sub/inner/f" in ours and "sub/g" not in ours
    assert "a/tmp/u" not in ours and "docs/deep/c.txt" in ours and "docs/a.md" not in ours


@pytest.mark.parametrize("pattern, path, ignored", [
    ("*.log", "x/a.log", False),  # root-anchored, unlike gitignore
    ("/abs", "abs/f", True),
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("[a-c]x", "bx", True),
    ("[^a-c]x", "dx", True),
    ("**", "any/thing", True),
    ("dir/**", "dir/a/b", True),
])
def test_patterns(pattern: str, path: str, ignored: bool) -> None:
    assert Matcher(parse_patterns(pattern)).matches(path) is ignored


def test_bad_pattern_is_a_clear_error() -> None:
    with pytest.raises(ContextError, match="unclosed"):
        parse_patterns("[abc")


def test_build_sees_only_what_is_not_ignored(build, builder, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dockyard.build import BuildOptions

    r = build(CTX, tags=[f"{unique}:ign"], outputs=[{"type": "tar", "dest": str(tmp_path / "a.tar")}])
    with tarfile.open(tmp_path / "a.tar") as t:
        names = {n.removeprefix("./") for n in t.getnames()}
    copied = {n.removeprefix("ctx/") for n in names if n.startswith("ctx/")}
    assert "keep.log" in copied and "x.txt" in copied and "sub/inner/f" in copied
    assert not {"a.log", "secret.key", "sub/g", "tmp/t", "a/tmp/u", "docs/a.md"} & copied
    assert r.image_id
    # Dockerfile-specific ignore file: Other.dockerignore replaces .dockerignore
    builder.build(BuildOptions(context=str(CTX), dockerfile=str(CTX / "Other"),
                               outputs=[{"type": "tar", "dest": str(tmp_path / "b.tar")}]))
    with tarfile.open(tmp_path / "b.tar") as t:
        names = {n.removeprefix("./") for n in t.getnames()}
    assert "ctx/a.log" in names and "ctx/x.txt" not in names and "ctx/secret.key" in names
