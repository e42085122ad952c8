"""``dockyard build`` and ``dockyard builder`` with the real command line, in a subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from _buildtools import HERE

DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def _run(root: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([DOCKYARD, *args, "--root", root] if args[0] == "build" else
                       [DOCKYARD, *args[:2], "--root", root, *args[2:]],
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def root(store) -> str:  # type: ignore[no-untyped-def]
    return os.path.dirname(store.content.root)


def test_build_quiet_tags_iidfile_label_build_arg(root, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    iid = tmp_path / "iid"
    p = _run(root, "build", "-q", "-t", f"{unique}:one", "-t", f"{unique}:two", "--iidfile", str(iid),
             "--label", "made.by=cli", "--build-arg", "X=42", "-f", str(HERE / "cli" / "Dockerfile.custom"),
             str(HERE / "cli"))
    image_id = p.stdout.strip()
    assert image_id.startswith("sha256:") and iid.read_text() == image_id
    img = store.get(f"{unique}:one")
    assert img.id == image_id == store.get(f"{unique}:two").id
    assert img.config.config.labels == {"made.by": "cli"}


def test_plain_progress_and_outputs(root, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    p = _run(root, "build", "--progress=plain", "--build-arg", "X=7", "-o", f"type=local,dest={out}",
             "-f", str(HERE / "cli" / "Dockerfile.custom"), str(HERE / "cli"))
    assert "#1 [stage-0 1/4] FROM busybox" in p.stderr
    assert "RUN echo \"x=$X\" > /x" in p.stderr and ("DONE" in p.stderr or "CACHED" in p.stderr)
    assert (out / "x").read_text() == "x=7\n" and (out / "payload.txt").read_text() == "payload\n"
    assert (out / "bin" / "busybox").exists()
    tar = tmp_path / "fs.tar"
    _run(root, "build", "-q", "--build-arg", "X=7", "-o", f"type=tar,dest={tar}",
         "-f", str(HERE / "cli" / "Dockerfile.custom"), str(HERE / "cli"))
    with tarfile.open(tar) as t:
        assert "x" in t.getnames() or "./x" in t.getnames()


def test_failed_build_exit_status(root, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo oops >&2; exit 3\n")
    p = _run(root, "build", "--progress=plain", str(tmp_path), check=False)
    assert p.returncode == 1
    assert "ERROR: failed to solve:" in p.stderr and "exit code: 3" in p.stderr and "oops" in p.stderr
    p = _run(root, "build", "--secret", "id=x", str(tmp_path), check=False)
    assert p.returncode == 1 and "src= or env= is required" in p.stderr


def test_builder_du_and_prune(root) -> None:  # type: ignore[no-untyped-def]
    _run(root, "build", "-q", "--build-arg", "X=prune", "-f", str(HERE / "cli" / "Dockerfile.custom"),
         str(HERE / "cli"))
    p = _run(root, "builder", "du")
    assert "RUN |1 X=prune" in p.stdout
    p = _run(root, "builder", "prune", "-f", "--keep-storage", "0")
    assert "Total reclaimed space:" in p.stdout and "Deleted build cache objects:" in p.stdout
    p = _run(root, "builder", "prune", "-f", "--filter", "bogus=1", check=False)
    assert p.returncode == 2 and "only until= is supported" in p.stderr


def _tar(path: Path, entries: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w") as t:
        for info, data in entries:
            info.size = len(data) if info.isfile() else 0
            t.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str) -> tarfile.TarInfo:
    i = tarfile.TarInfo(name)
    i.type = tarfile.SYMTYPE
    i.linkname = target
    return i


def _stdin_build(root: str, stdin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with open(stdin, "rb") as f:
        return subprocess.run([DOCKYARD, "build", "--root", root, "-q", *args, "-"], stdin=f,
                              capture_output=True, text=True, timeout=60)


def test_context_tar_and_dockerfile_on_stdin(root, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = _tar(tmp_path / "ctx.tar", [(_file("Dockerfile"), b"FROM busybox\nCOPY f.txt /f.txt\n"),
                                        (_file("f.txt"), b"from the tar\n")])
    p = _stdin_build(root, good, "-t", f"{unique}:tar")
    assert p.returncode == 0, p.stderr
    assert store.get(f"{unique}:tar").id == p.stdout.strip()
    df = tmp_path / "Dockerfile"
    df.write_text("FROM busybox\nRUN echo stdin > /s\n")
    p = _stdin_build(root, df, "-t", f"{unique}:df")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("entries, message", [
    ([(_file("../evil"), b"x")], "points outside the context"),
    ([(_file("a/../../evil"), b"x")], "points outside the context"),
    ([(_link("up", "/etc"), b""), (_file("up/evil"), b"x")], "refused"),
])
def test_context_tar_escapes_are_refused(root, tmp_path, entries, message: str) -> None:  # type: ignore[no-untyped-def]
    bad = _tar(tmp_path / "bad.tar", [(_file("Dockerfile"), b"FROM busybox\n"), *entries])
    p = _stdin_build(root, bad)
    assert p.returncode == 1 and message in p.stderr
    assert not os.path.exists("/etc/evil") and not (tmp_path.parent / "evil").exists()
