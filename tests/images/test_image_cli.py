"""``dockyard image …`` and its top-level aliases, through the real ``dockyard`` group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockyard.cli.image import render
from dockyard.cli.main import cli
from dockyard.units import human_duration, human_size


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    root = str(tmp_path / "root")

    def invoke(*args: str, input: bytes | None = None, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, list(args), input=input, env={"DOCKYARD_ROOT": root})
        assert result.exit_code == code, (result.output, result.exception)
        return result

    return invoke


def test_image_commands(run, busybox_tar: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("import", "-c", 'CMD ["sh"]', "-m", "base", "-", "busybox:latest", input=busybox_tar.read_bytes())
    iid = out.stdout.strip()
    assert iid.startswith("sha256:") and len(iid) == 71
    run("tag", "busybox", "me/bb:1")
    table = run("images").stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert {tuple(line.split()[:3]) for line in table[1:]} == {
        ("busybox", "latest", iid[7:19]), ("me/bb", "1", iid[7:19])}
    assert run("image", "ls", "-q").stdout.split() == [iid[7:19]]
    assert run("image", "ls", "--no-trunc", "-q").stdout.split() == [iid]
    assert run("images", "--format", "{{.Repository}}:{{.Tag}}", "me/bb").stdout.split() == ["me/bb:1"]
    assert run("image", "list", "-f", "dangling=true", "-q").stdout == ""
    assert run("image", "inspect", "-f", "{{.Config.Cmd}} {{json .RootFS.Type}} {{.Comment}}",
               "busybox").stdout == '[sh] "layers" base\n'
    doc = json.loads(run("image", "inspect", "me/bb:1").stdout)
    assert doc[0]["Id"] == iid and doc[0]["RepoTags"] == ["busybox:latest", "me/bb:1"]
    hist = run("history", "busybox").stdout.splitlines()
    assert hist[0].split()[:2] == ["IMAGE", "CREATED"] and hist[1].startswith(iid[7:19])
    # save to a file, rmi, load it back.
    archive = tmp_path / "bb.tar"
    run("save", "-o", str(archive), "busybox")
    assert run("rmi", "busybox", "me/bb:1").stdout.splitlines() == [
        "Untagged: busybox:latest", "Untagged: me/bb:1", f"Deleted: {iid}"]
    assert run("load", "-i", str(archive)).stdout == "Loaded image: busybox:latest\n"
    assert run("image", "load", "-q", input=archive.read_bytes()).stdout == ""
    # Errors: docker's wording, exit status 1, nothing changed.
    err = run("rmi", "nope", code=1)
    assert "No such image: nope" in err.stderr
    err = run("image", "inspect", "busybox", "nope", code=1)
    assert json.loads(err.stdout)[0]["Id"] == iid and "No such image: nope" in err.stderr
    err = run("tag", "busybox", "Bad:Name", code=1)
    assert "repository name must be lowercase" in err.stderr
    err = run("import", "-c", "FROM x", "-", "x:1", input=busybox_tar.read_bytes(), code=1)
    assert "FROM is not a valid change command" in err.stderr
    # prune: the dangling image made by re-importing busybox:latest goes.
    run("import", "-", "busybox:latest", input=busybox_tar.read_bytes())
    out = run("image", "prune", "-f").stdout
    assert f"deleted: {iid}" in out and "Total reclaimed space:" in out
    assert run("image", "prune", "-a", "-f").stdout.startswith("Deleted Images:")
    assert run("images", "-q").stdout == ""


def test_units_and_templates() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 4261550, 1.5e9)] == ["0B", "999B", "1kB", "4.26MB", "1.5GB"]
    assert [human_duration(s) for s in (0.5, 1, 59, 60, 3599, 3600, 47 * 3600, 3 * 86400, 20 * 86400,
                                        90 * 86400, 800 * 86400)] == [
        "Less than a second", "1 second", "59 seconds", "About a minute", "59 minutes",
        "About an hour", "47 hours", "3 days", "2 weeks", "3 months", "2 years"]
    doc = {"A": ["x", "y"], "B": {"k": "v"}, "C": None, "D": True}
    assert render("{{.A}} {{.B}} {{.D}} {{json .A}}", doc) == '[x y] map[k:v] true ["x","y"]'
    assert render("{{range .A}}<{{.}}>{{end}} {{index .A 1}} {{join .A \",\"}}", doc) == "<x><y> y x,y"
