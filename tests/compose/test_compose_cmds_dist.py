"""``compose push`` / ``compose pull`` through the daemon against a
``dockyard registry`` on a free loopback port (loopback is insecure by
default, as in Docker)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "distribution"))

from _regtools import Running, start_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    reg = start_registry(tmp_path_factory.mktemp("reg") / "open")
    try:
        yield reg
    finally:
        reg.stop()


def test_build_push_remove_pull_run(compose: Any, registry: Running,  # noqa: F811
                                    unique: str) -> None:
    c = compose("cmds_dist")
    repo = unique.lower().replace("-", "")
    c.env.update(REG=registry.host, REPO=repo)
    ref = f"{registry.host}/{repo}/app:1"
    c("build", "app")
    r = c("push")
    assert "app  Pushed" in r.stderr, r.stderr
    with httpx.Client(base_url=registry.url, timeout=30) as reg:
        assert reg.get(f"/v2/{repo}/app/tags/list").json()["tags"] == ["1"]
    with c.d.api() as api:
        want = api.get(f"/images/{ref}/json").json()["Id"]
        assert api.delete(f"/images/{ref}").status_code == 200
        assert api.get(f"/images/{ref}/json").status_code == 404

    # gone is not in the registry: pull fails, naming it, unless told to ignore
    r = c("pull", check=False)
    assert r.returncode != 0 and f"pull gone ({registry.host}/{repo}/gone:1)" in r.stderr, r.stderr
    r = c("pull", "--ignore-pull-failures")
    with c.d.api() as api:
        assert api.get(f"/images/{ref}/json").json()["Id"] == want
    # the pulled image runs
    r = c("run", "--rm", "app")
    assert r.stdout == "built-for-push\n", r.stderr


def test_push_failure_names_the_service(compose: Any) -> None:  # noqa: F811
    c = compose("cmds_dist")
    # never built here, and nothing listens on port 1: the push fails, naming the service
    c.env.update(REG="127.0.0.1:1", REPO="x")
    r = c("push", "app", check=False)
    assert r.returncode != 0 and "push app (127.0.0.1:1/x/app:1)" in r.stderr, r.stderr
