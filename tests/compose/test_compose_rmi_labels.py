"""Images compose builds carry docker compose's labels, and ``down --rmi`` /
``--remove-orphans`` pick what to remove as docker compose v2 does (its ImagePruner and
isOrphaned) — the real ``dockyard compose`` CLI against a private daemon, checked on the
engine directly (Debian's ``docker`` CLI, the Engine API)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from test_compose_up_build import _image_id, _tag
from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)

from dockyard.compose import labels as L
from dockyard.compose.lifecycle import familiar

DOCKER = shutil.which("docker") or "/usr/bin/docker"  # Debian's docker.io CLI
BOTH = ("compose.yaml", "extra.yaml")
SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def _docker(c: Any, tmp: Any, *args: str) -> str:
    env = {**os.environ, "DOCKER_HOST": c.d.host, "DOCKER_CONFIG": str(tmp)}
    r = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _drop_images(c: Any, *refs: str) -> None:
    with c.d.api() as api:
        for ref in refs:
            api.delete(f"/images/{ref}")


def test_reference_names_as_the_pruner() -> None:
    """Names as compose's pruner prints and removes them: tagged, Docker Hub's short form;
    what does not parse as a reference is left as written."""
    assert familiar("busybox") == "busybox:latest"
    assert familiar("docker.io/library/busybox:1.36") == "busybox:1.36"
    assert familiar("index.docker.io/me/app") == "me/app:latest"
    assert familiar("localhost:5000/a/b") == "localhost:5000/a/b:latest"
    assert familiar("Registry/app") == "Registry/app:latest"  # uppercase: a domain
    digest = "sha256:" + "ab" * 32
    assert familiar(f"app@{digest}") == f"app@{digest}"  # a digest: no tag added
    for bad in ("App", "app:bad tag", "ab" * 32):
        assert familiar(bad) == bad


def test_built_images_carry_compose_labels(compose: Any, tmp_path: Any) -> None:  # noqa: F811
    c = compose("rmi_labels")
    p = c.project
    try:
        c("build")
        out = _docker(c, tmp_path, "image", "inspect", "--format", "{{json .Config.Labels}}",
                      f"{p}-app", f"{p}-custom:v1")
        app, custom = (json.loads(line) for line in out.splitlines())
        compose_labels = {L.PROJECT: p, L.VERSION: L.COMPOSE_VERSION,
                          "com.docker.compose.image.builder": "classic"}
        assert app == {**compose_labels, L.SERVICE: "app"}
        # build.labels kept, compose's own over them (its project label wins)
        assert custom == {**compose_labels, L.SERVICE: "custom", "org.example.team": "yard"}
        # the engine finds them by the project label, as down --rmi asks it
        with c.d.api() as api:
            listed = api.get("/images/json", params={"filters": json.dumps(
                {"label": [f"{L.PROJECT}={p}"], "dangling": ["false"]})}).json()
        assert sorted(t for i in listed for t in i["RepoTags"]) == [
            f"{p}-app:latest", f"{p}-custom:v1"]
    finally:
        _drop_images(c, f"{p}-app", f"{p}-custom:v1")


def test_down_rmi_picks_images_as_docker_compose(compose: Any) -> None:  # noqa: F811
    c = compose("rmi_labels")
    p = c.project
    _tag(c, "busybox", f"{p}-plain")
    other = f"{p}-other"
    try:
        c("up", "-d", files=BOTH)
        assert sorted(c.ids()) == [f"{p}-{s}-1" for s in ("app", "custom", "gone", "plain")]

        # local: the images compose built for the model's services, by their labels,
        # whatever their names; `gone` (no longer in the files) is not even tried
        r = c("down", "--rmi", "local")
        assert _image_id(c, f"{p}-app") is None and _image_id(c, f"{p}-custom:v1") is None
        assert f"Image {p}-app:latest  Removed" in r.stderr
        assert f"Image {p}-custom:v1  Removed" in r.stderr
        assert _image_id(c, f"{p}-gone:v1") and f"{p}-gone" not in r.stderr.replace(
            f"Container {p}-gone-1", ""), r.stderr
        assert list(c.ids()) == [f"{p}-gone-1"]  # an orphan: stays without the flag
        assert _image_id(c, f"{p}-plain") and _image_id(c, "busybox")

        # with --remove-orphans: the orphan goes, then every image labelled with the project
        r = c("down", "--rmi", "local", "--remove-orphans")
        assert c.containers() == [] and _image_id(c, f"{p}-gone:v1") is None, r.stderr
        assert _image_id(c, f"{p}-plain")

        # an image under the default name that compose did not label (as older versions
        # built) goes with local too; all adds the services' image: names, but never
        # the last name of an image a container uses (here one outside the project)
        _tag(c, "busybox", f"{p}-app")
        c("up", "-d")
        assert c.inspect(f"{p}-app-1")["Image"] == _image_id(c, "busybox")  # not rebuilt
        with c.d.api() as api:
            api.post("/containers/create", params={"name": other}, json={
                "Image": f"{p}-custom:v1", "Cmd": ["true"]}).raise_for_status()
        # that container took the image's labels, com.docker.compose.project and .service
        # among them (an engine gives a container its image's labels), but has no config
        # hash: compose did not create it, and neither ps, nor up, nor down take it for
        # one of the project's (up would have removed it as a surplus replica)
        ours = c.ids()
        assert other in ours and L.CONFIG_HASH not in c.inspect(other)["Config"]["Labels"]
        assert c.inspect(other)["Config"]["Labels"][L.SERVICE] == "custom"
        c("up", "-d")
        assert c.ids() == ours and ours[other] not in c("ps", "-a", "-q").stdout
        r = c("down", "--rmi", "all")
        assert list(c.ids()) == [other]
        assert _image_id(c, f"{p}-app") is None and _image_id(c, f"{p}-plain") is None
        assert f"Image {p}-custom:v1  Resource is still in use" in r.stderr, r.stderr
        assert _image_id(c, f"{p}-custom:v1") and _image_id(c, "busybox")
    finally:
        with c.d.api() as api:
            api.delete(f"/containers/{other}", params={"force": "1"})
        _drop_images(c, f"{p}-app", f"{p}-custom:v1", f"{p}-gone:v1", f"{p}-plain")


def _states(c: Any) -> list[tuple[str, str, str]]:
    """(service, oneoff, state) of the project's containers, sorted."""
    return sorted((x["Labels"][L.SERVICE], x["Labels"][L.ONEOFF], x["State"])
                  for x in c.containers())


def test_down_remove_orphans_takes_one_offs(compose: Any) -> None:  # noqa: F811
    c = compose("down_oneoff")
    c("up", "-d", files=BOTH)
    c("run", "-T", "svc", "true")  # a one-off that exited
    c("run", "-d", "-T", "svc", *SLEEP)  # one still running
    c("--profile", "debug", "run", "-T", "dbg")  # of a service whose profile goes off
    c("run", "-T", "gone", "true", files=BOTH)  # of a service dropped from the files
    c("run", "-d", "-T", "gone", *SLEEP, files=BOTH)
    everything = [("dbg", "True", "exited"), ("gone", "False", "running"),
                  ("gone", "True", "exited"), ("gone", "True", "running"),
                  ("svc", "False", "running"), ("svc", "True", "exited"),
                  ("svc", "True", "running")]
    assert _states(c) == everything
    try:
        # without the flag: the services' containers only, never a one-off or an orphan
        r = c("down")
        assert _states(c) == [s for s in everything if s != ("svc", "False", "running")], \
            r.stderr

        # with it: the service's one-offs (running too), every exited one-off whatever its
        # service (dropped or out of profile), and the orphan; a running one-off of a
        # service not in the files is no orphan, and stays
        c.env["COMPOSE_REMOVE_ORPHANS"] = "true"  # v2's default for the flag
        r = c("down")
        assert _states(c) == [("gone", "True", "running")], r.stderr
    finally:
        with c.d.api() as api:
            for x in c.containers():
                api.delete(f"/containers/{x['Id']}", params={"force": "1"})
