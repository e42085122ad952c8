"""``build:`` services through the daemon's ``POST /build``: ``compose build``,
``up`` building a missing image, ``up --build`` — real CLI, private daemon."""

from __future__ import annotations

import os
import shutil
from typing import Any

from test_compose_up_cli import HERE, compose, daemon  # noqa: F401  (fixtures)


def test_build_then_up_with_dockerignore_and_default_name(compose: Any,  # noqa: F811
                                                          tmp_path: Any) -> None:
    c = compose("cmds_build")
    p = c.project
    # a private copy: the test adds a link pointing out of the context
    shutil.copytree(HERE / "cmds_build", tmp_path / "proj", symlinks=True)
    c.dir = tmp_path / "proj"
    os.symlink("/etc/hostname", c.dir / "app" / "escape")

    # up builds the missing image under <project>-app, then runs it
    r = c("up", "-d")
    assert "Successfully tagged" in r.stderr and f"{p}-app:latest" in r.stderr, r.stderr
    app = c.inspect(f"{p}-app-1")
    assert app["Config"]["Image"] == f"{p}-app"
    logs = c("logs", "--no-log-prefix", "app").stdout.split()
    assert logs[0] == "hello-from-build"
    # .dockerignore applied; Dockerfile and .dockerignore always sent
    assert sorted(logs[1:]) == ["Dockerfile", "escape", "kept.txt"]
    # the link travelled as a link, the host file was not read into the image
    r = c("exec", "-T", "app", "readlink", "/ctx/escape")
    assert r.stdout == "/etc/hostname\n"

    # a second up does not rebuild; up --build does (a new image under the same name)
    first = app["Image"]
    r = c("up", "-d")
    assert "Building" not in r.stderr and c.inspect(f"{p}-app-1")["Id"] == app["Id"]
    (c.dir / "app" / "kept.txt").write_text("changed\n")
    r = c("up", "-d", "--build")
    assert "Built" in r.stderr, r.stderr
    with c.d.api() as api:
        new_image = api.get(f"/images/{p}-app/json").json()["Id"]
    assert new_image != first

    # compose build --build-arg overrides the file's args
    c("build", "--build-arg", "GREETING=overridden")
    r = c("run", "--rm", "app", "cat", "/greeting")
    assert r.stdout == "overridden\n"


def test_build_errors_name_the_service(compose: Any, tmp_path: Any) -> None:  # noqa: F811
    c = compose("cmds_build")
    shutil.copytree(HERE / "cmds_build", tmp_path / "proj")
    c.dir = tmp_path / "proj"
    (c.dir / "app" / "Dockerfile").write_text("FROM busybox\nRUN exit 3\n")
    r = c("build", check=False)
    assert r.returncode != 0 and "failed to build app" in r.stderr, r.stderr
    r = c("up", "-d", check=False)
    assert r.returncode != 0 and "failed to build app" in r.stderr
    assert c.containers() == []
    r = c("up", "--build", "--no-build", check=False)
    assert r.returncode != 0 and "incompatible" in r.stderr
