"""``dockyard compose watch``: develop.watch rules against a private daemon.

The watch runs as a user runs it (the CLI, in the background, stopped with
SIGINT); real files change under it, and what reached the containers is read
back through the Engine API's archive endpoint, independently of the compose
code. The rule matching and the inotify tree watcher are checked on their
own too, on real files and the real kernel.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_compose_up_cli import DOCKYARD, HERE, compose, daemon  # noqa: F401  (fixtures)

from dockyard.compose.errors import ConfigError
from dockyard.compose.loader import ProjectOptions, load_project
from dockyard.compose.watch_rules import watch_rules
from dockyard.linux.inotify import TreeWatcher


def _wait(what: str, cond: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Watch:
    """``compose watch ARGS`` (or ``compose ARGS`` when they start with ``up``) running
    in the background, its output in a file."""

    def __init__(self, c: Any, *args: str) -> None:
        self.c = c
        self.log = Path(c.dir) / ".watch.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        env["DOCKER_HOST"] = c.d.host
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [DOCKYARD, "compose", "-f", str(Path(c.dir) / "compose.yaml"), "-p", c.project,
                 *(args if args[:1] == ("up",) else ("watch", *args))], env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait("watch to start", lambda: "Watch enabled" in self.text() or self._died(), 90)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def _died(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"watch exited {self.proc.returncode}:\n{self.text()}")
        return False

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        print(f"--- compose watch output ---\n{self.text()}")  # shown when a test fails


@pytest.fixture
def project(compose: Any, tmp_path: Path) -> Iterator[Any]:  # noqa: F811
    """The `watch` project in a private copy (the tests change its files)."""
    c = compose("watch")
    shutil.copytree(HERE / "watch", tmp_path / "proj", symlinks=True)
    c.dir = tmp_path / "proj"
    yield c


def _entry(c: Any, container: str, path: str) -> tuple[tarfile.TarInfo, bytes] | None:
    """The container's ``path`` as its archive shows it (None: absent)."""
    with c.d.api() as api:
        r = api.get(f"/containers/{container}/archive", params={"path": path})
    if r.status_code == 404:
        return None
    r.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        info = tar.getmembers()[0]
        f = tar.extractfile(info) if info.isfile() else None
        return info, f.read() if f else b""


def _content(c: Any, container: str, path: str) -> bytes | None:
    e = _entry(c, container, path)
    return None if e is None else e[1]


def test_sync_created_modified_deleted_subdir_ignored_and_links(project: Any) -> None:
    c = project
    p = c.project
    web, cfg = f"{p}-web-1", f"{p}-cfg-1"
    w = Watch(c, "web", "cfg")
    try:
        # brought up first; initial_sync sent web/ whole (the image has no /app)
        assert _content(c, web, "/app/index.html") == b"hello\n"
        assert _content(c, web, "/app/old.txt") == b"old\n"
        src = Path(c.dir) / "web"
        # ignored ones first: if the rules let them through, they would be there by
        # the time the later files are
        (src / "scratch.tmp").write_text("tmp\n")
        (src / "cache").mkdir()
        (src / "cache" / "c.txt").write_text("cached\n")
        (src / ".index.html.swp").write_text("vim\n")
        (src / "index.html").write_text("changed\n")
        (src / "new.txt").write_text("new\n")
        (src / "old.txt").unlink()
        deep = src / "sub" / "dir"
        deep.mkdir(parents=True)
        (deep / "deep.txt").write_text("deep\n")
        # a link to a host file travels as a link: the host file's content never does
        os.symlink("/etc/hostname", src / "escape")
        os.symlink("/etc", src / "etcdir")
        _wait("the changes in web-1", lambda: (
            _content(c, web, "/app/index.html") == b"changed\n"
            and _content(c, web, "/app/new.txt") == b"new\n"
            and _content(c, web, "/app/sub/dir/deep.txt") == b"deep\n"
            and _entry(c, web, "/app/escape") is not None
            and _entry(c, web, "/app/etcdir") is not None
            and _entry(c, web, "/app/old.txt") is None))
        for ignored in ("/app/scratch.tmp", "/app/cache", "/app/.index.html.swp"):
            assert _entry(c, web, ignored) is None, ignored
        link = _entry(c, web, "/app/escape")
        assert link is not None and link[0].issym() and link[0].linkname == "/etc/hostname"
        link = _entry(c, web, "/app/etcdir")
        assert link is not None and link[0].issym() and link[0].linkname == "/etc"
        assert "Syncing after" in w.text()

        # sync+restart: the file arrives and the container restarts
        before = c.inspect(cfg)["State"]["StartedAt"]
        (Path(c.dir) / "conf" / "app.conf").write_text("level=2\n")
        _wait("cfg-1 restarted with the new conf", lambda: (
            _content(c, cfg, "/etc/conf/app.conf") == b"level=2\n"
            and c.inspect(cfg)["State"]["StartedAt"] != before
            and c.inspect(cfg)["State"]["Running"]))
        # sync+exec: the hook runs after the sync (include: only *.txt counts)
        (Path(c.dir) / "hooks" / "x.sh").write_text("not included\n")
        (Path(c.dir) / "hooks" / "b.txt").write_text("b\n")
        _wait("the hook's output", lambda: _content(c, cfg, "/hook-ran") == b"b\n")
        assert _entry(c, cfg, "/hooks/x.sh") is None

        # SIGINT ends the watch cleanly; the containers keep running
        assert w.interrupt() == 0, w.text()
        assert c.inspect(web)["State"]["Running"] and c.inspect(cfg)["State"]["Running"]
    finally:
        w.kill()


def test_rebuild_makes_a_new_image_and_recreates(project: Any) -> None:
    c = project
    api = f"{c.project}-api-1"
    w = Watch(c, "--quiet", "api")
    try:
        first = c.inspect(api)
        assert _content(c, api, "/version.txt") == b"v1\n"
        (Path(c.dir) / "api" / "version.txt").write_text("v2\n")

        def recreated() -> dict[str, Any] | None:
            try:
                now = c.inspect(api)
            except Exception:
                return None  # between the rename and the create
            return now if now["Id"] != first["Id"] and now["State"]["Running"] else None

        now = _wait("api-1 recreated", recreated, 90)
        assert now["Image"] != first["Image"]
        assert _content(c, api, "/version.txt") == b"v2\n"
        assert [x["Id"] for x in c.containers()] == [now["Id"]]  # the old one removed
        assert "Rebuilding after" in w.text() and "Recreated" in w.text()
        assert w.interrupt() == 0, w.text()
    finally:
        w.kill()


def test_up_watch_syncs_beside_the_logs_and_ctrl_c_stops(project: Any) -> None:
    c = project
    web = f"{c.project}-web-1"
    w = Watch(c, "up", "--watch", "web")
    try:
        assert "Attaching to" in w.text()
        (Path(c.dir) / "web" / "late.txt").write_text("late\n")
        _wait("late.txt in web-1", lambda: _content(c, web, "/app/late.txt") == b"late\n")
        w.interrupt()
        assert "Gracefully stopping" in w.text()
        assert not c.inspect(web)["State"]["Running"]  # attached up stops what it started
    finally:
        w.kill()
    r = c("up", "-d", "--watch", check=False)
    assert r.returncode == 1 and "--watch is incompatible" in r.stderr


BAD = [
    ("unknown_action.yaml", "services.app.develop.watch[0].action"),
    ("no_path.yaml", "path"),
    ("missing_path.yaml", "services.app.develop.watch[0].path: "),
    ("no_target.yaml", "services.app.develop.watch[0].target: action sync+restart needs"),
    ("relative_target.yaml", "services.app.develop.watch[0].target: 'app' is not an abs"),
    ("rebuild_no_build.yaml", "services.app.develop.watch[1].action: can't watch"),
    ("no_command.yaml", "services.app.develop.watch[0].exec: sync+exec needs"),
    ("no_develop.yaml", "none of the selected services is configured for watch"),
]


def test_bad_watch_config_errors_before_anything_starts(compose: Any) -> None:  # noqa: F811
    """Through the CLI: exit 15 (docker compose's for a project that does not load),
    the field named, nothing created; every case in-process (same checks, no CLI start)."""
    c = compose("watch_bad")
    for args, file, message in [(("watch",), "unknown_action.yaml", BAD[0][1]),
                                (("watch",), "no_target.yaml", BAD[3][1]),
                                (("up", "--watch"), "rebuild_no_build.yaml", BAD[5][1])]:
        r = c(*args, files=(file,), check=False, timeout=60)
        assert r.returncode == 15 and message in r.stderr, (file, r.returncode, r.stderr)
    assert c.containers() == []
    for file, message in BAD:
        with pytest.raises(ConfigError) as e:
            loaded = load_project(ProjectOptions(
                config_files=[str(HERE / "watch_bad" / file)],
                working_dir=str(HERE / "watch_bad"), environ={}))
            watch_rules(loaded.project)
        assert message in str(e.value), (file, str(e.value))


# --- the pieces on their own: rules over real files, inotify on the real kernel ---------


def test_rules_match_ignore_include_dockerignore_and_editor_files(tmp_path: Path) -> None:
    shutil.copytree(HERE / "watch", tmp_path / "p")
    loaded = load_project(ProjectOptions(config_files=[str(tmp_path / "p" / "compose.yaml")],
                                         working_dir=str(tmp_path / "p"), environ={}))
    rules = watch_rules(loaded.project)
    assert sorted(rules) == ["api", "cfg", "web"]
    web = rules["web"][0]
    d = str(tmp_path / "p" / "web")
    assert web.matches(f"{d}/index.html") and web.matches(f"{d}/a/b.txt")
    for no in ("x.tmp", "cache", "cache/c.txt", ".git/HEAD", ".x.swp", "x~", "4913", "#x#"):
        assert not web.matches(f"{d}/{no}"), no
    assert not web.matches(f"{d}-other/file") and not web.matches(str(tmp_path))
    assert web.container_path(f"{d}/a/b.txt") == "/app/a/b.txt"
    api = rules["api"][0]
    a = str(tmp_path / "p" / "api")
    assert api.matches(f"{a}/version.txt") and not api.matches(f"{a}/ignored.txt")
    hooks = rules["cfg"][1]
    h = str(tmp_path / "p" / "hooks")
    assert hooks.matches(f"{h}/x.txt") and not hooks.matches(f"{h}/x.sh")
    assert hooks.matches(f"{h}/sub", is_dir=True)  # the files below decide
    assert watch_rules(loaded.project, ["api"]).keys() == {"api"}


def test_tree_watcher_sees_new_subdirectories_files_and_deletions(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    single = tmp_path / "single.txt"
    single.write_text("1")
    (tmp_path / "other.txt").write_text("1")

    def collect(w: TreeWatcher, want: set[str]) -> set[str]:
        seen: set[str] = set()
        deadline = time.monotonic() + 30
        while not want <= seen and time.monotonic() < deadline:
            seen.update(w.changes(0.2))
        return seen

    with TreeWatcher([str(root), str(single)]) as w:
        (root / "a" / "f").write_text("x")
        (root / "n" / "m").mkdir(parents=True)  # created and filled before any watch on it
        (root / "n" / "m" / "g").write_text("y")
        single.write_text("2")
        (tmp_path / "other.txt").write_text("2")  # beside the single file: not watched
        seen = collect(w, {f"{root}/a/f", f"{root}/n", str(single)})
        assert {f"{root}/a/f", f"{root}/n", str(single)} <= seen
        assert str(tmp_path / "other.txt") not in seen
        # the new directories are watched from now on
        (root / "n" / "m" / "h").write_text("z")
        (root / "a" / "f").unlink()
        assert {f"{root}/n/m/h", f"{root}/a/f"} <= collect(w, {f"{root}/n/m/h", f"{root}/a/f"})
