"""``dockyard image …`` and its top-level aliases, through a private daemon's Engine API.

The commands run in this process (click's runner, ``-H`` to the daemon)
except where a real process matters (exit codes, a terminal for the
progress bar); outputs that do not depend on the clock are compared with
the real ``docker`` CLI's against the same daemon. ``--root`` (the store
in-process, no daemon) is checked on its own.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockyard.cli.image import render
from dockyard.cli.main import cli
from dockyard.units import human_duration, human_size

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import DOCKYARD, Daemon, new_daemon

pytestmark = pytest.mark.needs_root


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    """Private: these tests remove and prune every image."""
    d = new_daemon()
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def run(daemon: Daemon):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, input: bytes | None = None, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, list(args), input=input,
                               env={"DOCKER_HOST": daemon.host, "DOCKYARD_HOST": None})
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return invoke


def _docker(d: Daemon, *args: str) -> str:
    return d.docker(*args, check=True).stdout.decode()


def test_image_commands(daemon: Daemon, run, busybox_tar: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("import", "-c", 'CMD ["sh"]', "-c", "ENV A=1", "-m", "base", str(busybox_tar),
              "bb:latest")
    iid = out.stdout.strip()
    assert iid.startswith("sha256:") and len(iid) == 71
    run("tag", "bb", "me/bb:1")
    run("image", "tag", "bb", "localhost:5000/me/bb")  # a registry port is not a tag
    table = run("images").stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert {tuple(line.split()[:3]) for line in table[1:]} >= {
        ("bb", "latest", iid[7:19]), ("me/bb", "1", iid[7:19]),
        ("localhost:5000/me/bb", "latest", iid[7:19])}
    # What does not depend on the clock is docker's output, byte for byte.
    for args in (["images", "-q"], ["images", "--no-trunc", "-q"], ["images", "-a", "-q"],
                 ["images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}"],
                 ["images", "--digests", "--format", "{{.Repository}} {{.Digest}}"],
                 ["images", "--format", "{{json .Containers}} {{.VirtualSize}}", "me/bb"],
                 ["images", "-f", "reference=me/*", "-q"],
                 ["history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "bb"],
                 ["image", "inspect", "bb"], ["image", "inspect", "-f", "{{.Config.Env}}", "bb"]):
        ours, theirs = run(*args).stdout, _docker(daemon, *args)
        if args[0] == "images" and "-f" not in args:  # the daemon's tag order may vary by call
            ours, theirs = (sorted(x.splitlines()) for x in (ours, theirs))
        assert ours == theirs, args
    ids = run("image", "ls", "-q").stdout.split()
    assert len(ids) == 4 and set(ids) == {iid[7:19], run("images", "-q", "busybox").stdout.strip()}
    assert run("images", "--format", "{{.Repository}}:{{.Tag}}", "me/bb").stdout.split() == ["me/bb:1"]
    row = json.loads(run("images", "--format", "{{json .}}", "me/bb").stdout)
    assert row["Repository"] == "me/bb" and row["ID"] == iid[7:19] and row["Tag"] == "1"
    assert run("image", "list", "-f", "dangling=true", "-q").stdout == ""
    assert run("image", "inspect", "-f", "{{.Config.Cmd}} {{json .RootFS.Type}} {{.Comment}}",
               "bb").stdout == '[sh] "layers" base\n'
    doc = json.loads(run("image", "inspect", "me/bb:1").stdout)
    assert doc[0]["Id"] == iid and "me/bb:1" in doc[0]["RepoTags"]
    hist = run("history", "bb").stdout.splitlines()
    assert hist[0].split()[:2] == ["IMAGE", "CREATED"] and hist[1].startswith(iid[7:19])
    hist = run("history", "-H=false", "bb").stdout.splitlines()
    assert hist[0].split()[:3] == ["IMAGE", "CREATED", "AT"]
    assert hist[1].split()[1].endswith("Z") and hist[1].split()[2].isdigit()  # bytes, no units
    assert run("history", "-q", "--no-trunc", "bb").stdout.split()[0] == iid
    # save to a file (what docker reads), rmi, load it back.
    archive = tmp_path / "bb.tar"
    run("save", "-o", str(archive), "bb")
    assert run("rmi", "me/bb:1", "localhost:5000/me/bb").stdout.splitlines() == [
        "Untagged: me/bb:1", "Untagged: localhost:5000/me/bb:latest"]
    assert run("rmi", "bb").stdout.splitlines() == ["Untagged: bb:latest", f"Deleted: {iid}"]
    assert run("load", "-i", str(archive)).stdout == "Loaded image: bb:latest\n"
    assert run("image", "load", "-q", input=archive.read_bytes()).stdout == "Loaded image: bb:latest\n"
    daemon.docker("rmi", "bb", check=True)
    _docker(daemon, "load", "-i", str(archive))  # docker's CLI reads our save
    assert run("images", "-q", "bb").stdout.strip() == iid[7:19]
    # save to stdout: the same archive
    r = subprocess.run([DOCKYARD, "save", "-H", daemon.host, "bb"], capture_output=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout == archive.read_bytes()
    # commit: a container's change as a new image, through the daemon.
    daemon.docker("create", "--name", "cm", "bb", "sh", "-c", "echo hi > /f", check=True)
    new = run("commit", "-c", "ENV B=2", "-m", "msg", "cm", "committed:1").stdout.strip()
    assert new.startswith("sha256:")
    assert run("image", "inspect", "-f", "{{.Comment}} {{json .Config.Env}}",
               "committed:1").stdout == 'msg ["A=1","B=2"]\n'
    err = run("image", "inspect", "-f", "{{index .Config.Env 5}}", "committed:1", code=1)
    assert "index out of range: 5" in err.stderr
    daemon.docker("rm", "cm", check=True)
    # prune: the dangling image made by importing bb:latest again goes.
    run("import", str(busybox_tar), "bb:latest")
    assert run("images", "-f", "dangling=true", "-q").stdout.strip() == iid[7:19]
    out = run("image", "prune", "-f").stdout
    assert f"deleted: {iid}" in out and "Total reclaimed space:" in out
    run("import", "-c", "LABEL keep=1", str(busybox_tar), "labelled:1")
    assert run("images", "-f", "label=keep=1", "--format", "{{.Repository}}").stdout == "labelled\n"
    run("image", "prune", "-a", "-f", "--filter", "label=keep=1")
    assert run("images", "--format", "{{.Repository}}", "labelled").stdout == ""
    assert run("image", "prune", "-a", "-f").stdout.startswith("Deleted Images:")
    assert run("images", "-q").stdout == ""
    assert run("image", "prune", "-f").stdout == "Total reclaimed space: 0B\n"


def test_errors_change_nothing(daemon: Daemon, run, busybox_tar: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("import", str(busybox_tar), "err:1")
    before = run("images", "-a", "--no-trunc", "-q").stdout
    err = run("rmi", "nope", code=1)
    assert err.stderr == "Error response from daemon: No such image: nope\n"
    err = run("image", "inspect", "err:1", "nope", code=1)
    assert json.loads(err.stdout)[0]["RepoTags"] == ["err:1"]
    assert "Error response from daemon: No such image: nope" in err.stderr
    assert run("image", "inspect", "nope", code=1).stdout == "[]\n"
    err = run("tag", "err:1", "Bad:Name", code=1)
    assert "repository name must be lowercase" in err.stderr
    err = run("tag", "err:1", "x@sha256:" + "0" * 64, code=1)
    assert err.stderr == "refusing to create a tag with a digest reference\n"
    err = run("import", "-c", "FROM x", str(busybox_tar), "x:1", code=1)
    assert "FROM is not a valid change command" in err.stderr
    err = run("import", str(tmp_path / "missing.tar"), code=1)
    assert err.stderr == f"open {tmp_path}/missing.tar: no such file or directory\n"
    err = run("load", "-i", "/etc/hostname", code=1)
    assert err.stderr.startswith("Error response from daemon: load: ")
    err = run("images", "-f", "bogus=1", code=1)
    assert err.stderr == "Error response from daemon: invalid filter 'bogus'\n"
    err = run("images", "-f", "dangling", code=125)
    assert "bad format of filter" in err.stderr
    out = tmp_path / "never.tar"
    err = run("save", "-o", str(out), "err:1", "nope", code=1)
    assert "No such image: nope" in err.stderr and not out.exists()
    assert os.listdir(tmp_path) == []  # no temporary file left either
    err = run("commit", "nope", "x:1", code=1)
    assert err.stderr == "Error response from daemon: No such container: nope\n"
    # in use: rmi refuses unless forced, as docker does
    daemon.docker("create", "--name", "user", "err:1", "true", check=True)
    err = run("rmi", "err:1", code=1)
    assert "conflict" in err.stderr.lower() and "must force" in err.stderr
    assert run("images", "-a", "--no-trunc", "-q").stdout == before
    daemon.docker("rm", "user", check=True)
    run("rmi", "err:1")


def test_no_daemon_and_real_process_exit_codes(daemon: Daemon, short_tmp: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{short_tmp}/none.sock"}
    r = subprocess.run([DOCKYARD, "images"], capture_output=True, env=env, timeout=30)
    assert r.returncode == 1 and b"Cannot connect to the dockyard daemon" in r.stderr
    r = subprocess.run([DOCKYARD, "rmi", "-H", daemon.host, "nope"], capture_output=True,
                       timeout=30)
    assert r.returncode == 1 and r.stderr.startswith(b"Error response from daemon: No such image")
    # docker's codes for bad command lines: 1 missing argument, 125 bad flag
    for args, code in ((["rmi"], 1), (["images", "--bogus"], 125),
                       (["history", "-H=maybe", "x"], 125), (["image", "save"], 1)):
        r = subprocess.run([DOCKYARD, *args], capture_output=True, env=env, timeout=30)
        assert r.returncode == code, (args, r.stderr)


def _stderr_on_a_terminal(*args: str) -> tuple[int, bytes, str]:
    """Run ``dockyard ARGS`` with stderr on a pty: (exit code, stdout, what the terminal got)."""
    primary, secondary = pty.openpty()
    seen = b""
    try:
        p = subprocess.Popen([DOCKYARD, *args], stdout=subprocess.PIPE, stderr=secondary)
        os.close(secondary)
        secondary = -1
        while True:  # read as it comes: a full pty would block the writer
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not chunk:
                break
            seen += chunk
        out = p.stdout.read() if p.stdout else b""
        rc = p.wait(60)
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    return rc, out, seen.decode()


def test_load_and_save_progress_on_a_terminal(daemon: Daemon, run, busybox_tar: Path,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    run("import", str(busybox_tar), "prog:1")
    archive = tmp_path / "bb.tar"
    rc, out, tty = _stderr_on_a_terminal("save", "-H", daemon.host, "-o", str(archive), "prog:1")
    assert rc == 0 and out == b"" and "Saving [" in tty and tty.endswith("\r\n")
    size = archive.stat().st_size
    rc, out, tty = _stderr_on_a_terminal("load", "-H", daemon.host, "-i", str(archive))
    assert rc == 0 and out == b"Loaded image: prog:1\n"
    assert "Loading [" in tty and f"{human_size(size)}/{human_size(size)}" in tty
    rc, out, tty = _stderr_on_a_terminal("load", "-q", "-H", daemon.host, "-i", str(archive))
    assert rc == 0 and out == b"Loaded image: prog:1\n" and tty == ""  # -q: no progress
    # not a terminal: no progress at all
    r = subprocess.run([DOCKYARD, "load", "-H", daemon.host, "-i", str(archive)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stderr == b""
    run("rmi", "prog:1")


def test_root_works_on_the_store_without_a_daemon(busybox_tar: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    root = str(tmp_path / "root")
    env = {"DOCKER_HOST": f"unix://{tmp_path}/nobody.sock"}

    def dy(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        r = runner.invoke(cli, list(args), env=env)
        assert r.exit_code == code, (args, r.output, r.exception)
        return r

    iid = dy("image", "import", "--root", root, "-c", 'CMD ["sh"]', str(busybox_tar),
             "off:1").stdout.strip()
    assert dy("images", "--root", root, "-q", "--no-trunc").stdout == iid + "\n"
    dy("image", "save", "--root", root, "-o", str(tmp_path / "off.tar"), "off:1")
    dy("rmi", "--root", root, "off:1")
    assert dy("image", "load", "--root", root, "-i", str(tmp_path / "off.tar")).stdout == \
        "Loaded image: off:1\n"
    dy("images", code=1)  # without --root: the daemon, and there is none


def test_units_and_templates() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 4261550, 1.5e9)] == ["0B", "999B", "1kB", "4.26MB", "1.5GB"]
    assert [human_duration(s) for s in (0.5, 1, 59, 60, 3599, 3600, 47 * 3600, 3 * 86400, 20 * 86400,
                                        90 * 86400, 800 * 86400)] == [
        "Less than a second", "1 second", "59 seconds", "About a minute", "59 minutes",
        "About an hour", "47 hours", "3 days", "2 weeks", "3 months", "2 years"]
    doc = {"A": ["x", "y"], "B": {"k": "v"}, "C": None, "D": True}
    assert render("{{.A}} {{.B}} {{.D}} {{json .A}}", doc) == '[x y] map[k:v] true ["x","y"]'
    assert render("{{range .A}}<{{.}}>{{end}} {{index .A 1}} {{join .A \",\"}}", doc) == "<x><y> y x,y"
    assert render("{{json .}}", {"a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e"}'
