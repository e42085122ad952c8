"""``up`` recreating services whose image changed (rebuild, retag), ``down --rmi`` and
``down -v`` — the real ``dockyard compose`` CLI against a private daemon, checked on
the engine directly."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import time
from typing import Any

from test_compose_up_cli import DOCKYARD, HERE, compose, daemon  # noqa: F401  (fixtures)

from dockyard.compose import labels as L
from dockyard.compose.planner import plan

DOCKER = shutil.which("docker") or "/usr/bin/docker"  # Debian's docker.io CLI

IMAGE = "com.docker.compose.image"


def _tag(c: Any, source: str, repo: str, tag: str = "latest") -> None:
    with c.d.api() as api:
        api.post(f"/images/{source}/tag", params={"repo": repo, "tag": tag}).raise_for_status()


def _image_id(c: Any, ref: str) -> str | None:
    with c.d.api() as api:
        r = api.get(f"/images/{ref}/json")
        return None if r.status_code == 404 else str(r.json()["Id"])


def test_plan_compares_the_recorded_image_id(load: Any) -> None:
    """The planner alone: a container whose recorded image ID differs from what its
    image resolves to now is recreated; unknown (not pulled) or equal: left alone."""
    p = load("up_build", "compose.yaml", project_name="pl").project
    existing = []
    for name in p.services:
        labels = L.container_labels(p.name, name, p.services[name].raw, 1,
                                    working_dir=p.working_dir, config_files=p.config_files)
        labels[IMAGE] = "sha256:old"
        existing.append({"Id": f"id-{name}", "Names": [f"/pl-{name}-1"], "Labels": labels,
                         "State": "running"})
    kinds = plan(p, existing, image_ids={"app": "sha256:new", "tagged": "sha256:old"}).kinds()
    assert kinds == {"app": ["recreate"], "tagged": ["noop"]}
    [action] = plan(p, existing, image_ids={"app": "sha256:new"}).for_service("app")
    assert action.reason == "image changed" and action.container == "id-app"
    assert plan(p, existing).kinds() == {"app": ["noop"], "tagged": ["noop"]}
    assert plan(p, existing, image_ids={"app": "sha256:new"}, no_recreate=True).kinds()[
        "app"] == ["noop"]


def test_up_recreates_when_the_image_changed(compose: Any, tmp_path: Any) -> None:  # noqa: F811
    c = compose("up_build")
    p = c.project
    shutil.copytree(HERE / "up_build", tmp_path / "proj")
    c.dir = tmp_path / "proj"
    _tag(c, "busybox", f"{p}-tagged")
    try:
        c("up", "-d")
        ids = c.ids()
        assert sorted(ids) == [f"{p}-app-1", f"{p}-tagged-1"]
        # each container records the ID its image resolved to
        app, tagged = c.inspect(f"{p}-app-1"), c.inspect(f"{p}-tagged-1")
        assert app["Config"]["Labels"][IMAGE] == app["Image"] == _image_id(c, f"{p}-app")
        assert tagged["Config"]["Labels"][IMAGE] == _image_id(c, "busybox")

        # nothing changed: nothing recreated, also with --build (the build is all cache
        # hits, so the same image ID)
        c("up", "-d")
        assert c.ids() == ids
        r = c("up", "-d", "--build")
        assert "Built" in r.stderr and c.ids() == ids, r.stderr

        # compose build with a changed context, then up: only app is recreated
        (c.dir / "app" / "stamp").write_text("two\n")
        c("build")
        r = c("up", "-d")
        now = c.ids()
        assert now[f"{p}-app-1"] != ids[f"{p}-app-1"], r.stderr
        assert now[f"{p}-tagged-1"] == ids[f"{p}-tagged-1"]
        assert c.inspect(f"{p}-app-1")["Image"] == _image_id(c, f"{p}-app") != app["Image"]
        assert "Recreated" in r.stderr

        # the tag moved to another image (as a pull of a newer one does): tagged is
        # recreated though its configuration hash is the same; app is not
        hash_before = c.inspect(f"{p}-tagged-1")["Config"]["Labels"][
            "com.docker.compose.config-hash"]
        _tag(c, f"{p}-app", f"{p}-tagged")
        c("up", "-d")
        after = c.ids()
        assert after[f"{p}-tagged-1"] != now[f"{p}-tagged-1"]
        assert after[f"{p}-app-1"] == now[f"{p}-app-1"]
        new = c.inspect(f"{p}-tagged-1")
        assert new["Config"]["Labels"][IMAGE] == _image_id(c, f"{p}-app") == new["Image"]
        assert new["Config"]["Labels"]["com.docker.compose.config-hash"] == hash_before
    finally:
        c("down", "--rmi", "all", check=False)
    assert _image_id(c, f"{p}-tagged") is None and _image_id(c, f"{p}-app") is None
    assert _image_id(c, "busybox") is not None  # only the tag went


def test_down_rmi_local_all_and_volumes(compose: Any) -> None:  # noqa: F811
    c = compose("down_rmi")
    p = c.project
    _tag(c, "busybox", f"{p}-plain")
    with c.d.api() as api:
        api.post("/volumes/create", json={"Name": f"{p}-keep"}).raise_for_status()
    try:
        c("up", "-d")
        assert sorted(c.ids()) == [f"{p}-built-1", f"{p}-named-1", f"{p}-plain-1"]
        assert _image_id(c, f"{p}-built") and _image_id(c, f"{p}-custom:v1")
        assert {v["Name"] for v in c.volumes()} == {f"{p}_data", f"{p}-keep"}

        # a bad --rmi is refused before anything is touched
        r = c("down", "--rmi", "everything", check=False)
        assert r.returncode != 0 and "invalid --rmi 'everything': expected local or all" \
            in r.stderr, r.stderr
        assert len(c.ids()) == 3

        # local: the images compose built (labelled with the project), under the default
        # name or a custom one, as docker compose v2's image pruner; -v: the project's
        # volume, never the external one
        r = c("down", "--rmi", "local", "-v")
        assert c.containers() == [] and c.networks() == []
        assert _image_id(c, f"{p}-built") is None, r.stderr
        assert _image_id(c, f"{p}-custom:v1") is None, r.stderr
        assert _image_id(c, f"{p}-plain")
        assert [v["Name"] for v in c.volumes()] == [f"{p}-keep"]

        # all: every service's image (here: untagged; busybox itself stays)
        c("up", "-d")
        c("down", "--rmi", "all")
        assert _image_id(c, f"{p}-built") is None and _image_id(c, f"{p}-custom:v1") is None
        assert _image_id(c, f"{p}-plain") is None and _image_id(c, "busybox")
        # without -v the project's volume stays
        assert {v["Name"] for v in c.volumes()} == {f"{p}_data", f"{p}-keep"}
    finally:
        with c.d.api() as api:
            api.delete(f"/volumes/{p}-keep")


def _saved_bytes(c: Any, ref: str) -> bytes:
    """Everything ``docker save`` gives for the image, compressed layers decompressed."""
    with c.d.api() as api:
        r = api.get(f"/images/{ref}/get")
        r.raise_for_status()
        data = r.content
    out = [data]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isfile() else None
            blob = f.read() if f else b""
            out.append(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)
    return b"".join(out)


def test_build_inline_dockerfile_and_secrets(compose: Any) -> None:  # noqa: F811
    c = compose("build_secrets")
    p = c.project
    # a missing secret source is an error naming it, before anything is built
    r = c("up", "-d", check=False)
    assert r.returncode != 0 and ("service 'app': build.secrets 'fromenv': environment "
                                  "variable BUILD_TOKEN is not set") in r.stderr, r.stderr
    assert c.containers() == [] and _image_id(c, f"{p}-app") is None

    token = f"env-secret-{secrets.token_hex(8)}"
    c.env["BUILD_TOKEN"] = token
    c("up", "-d")
    file_value = (HERE / "build_secrets" / "token.txt").read_bytes()
    deadline = time.monotonic() + 30
    while len(lines := c("logs", "--no-log-prefix", "app").stdout.splitlines()) < 6:
        assert time.monotonic() < deadline, lines  # the container prints as it starts
        time.sleep(0.2)
    # the RUN step read both secrets (it wrote only their digest)
    assert lines[0] == hashlib.sha256(file_value + token.encode()).hexdigest()
    # the context: the inline Dockerfile travelled under a name .dockerignore hides
    assert lines[1:5] == [".", "..", ".dockerignore", "kept.txt"], lines
    assert "No such file or directory" in lines[5]  # no /run/secrets left in the image

    # neither secret is in any layer, the history or the config
    saved = _saved_bytes(c, f"{p}-app")
    assert b"/digest" in saved  # the check can see into layers: the RUN's file is there
    for value in (token.encode(), file_value.strip()):
        assert value not in saved
    with c.d.api() as api:
        history = api.get(f"/images/{p}-app/history").text
        config = api.get(f"/images/{p}-app/json").text
    assert "sha256sum" in history
    for text in (history, config):
        assert token not in text and "file-secret-for-the-build" not in text


def test_build_secrets_extension_refuses_bad_values(daemon: Any) -> None:  # noqa: F811
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w") as tar:
        data = b"FROM busybox\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with daemon.api() as api:
        for query, message in (
                ({"secrets": json.dumps({"x": "not base64!"})}, "is not base64"),
                ({"secrets": "[1]"}, "expected a JSON object"),
                ({"ssh": json.dumps({"default": "/etc/hostname"})}, "is not a socket")):
            r = api.post("/build", params=query, content=body.getvalue(),
                         headers={"Content-Type": "application/x-tar"})
            assert r.status_code == 400 and message in r.json()["message"], (query, r.text)


def test_build_ssh_forwards_the_agent(compose: Any, short_tmp: Any) -> None:  # noqa: F811
    c = compose("build_secrets")
    p = c.project
    sock = str(short_tmp / "agent.sock")
    c.env["SSH_AUTH_SOCK"] = ""
    r = c("build", files=("ssh.yaml",), check=False)
    assert r.returncode != 0 and "build.ssh 'default': expected ID=SOCKET, or ID with " \
        "SSH_AUTH_SOCK set" in r.stderr, r.stderr
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            assert agent.poll() is None and time.monotonic() < deadline, "no ssh-agent"
            time.sleep(0.05)
        c.env["SSH_AUTH_SOCK"] = sock
        c("build", files=("ssh.yaml",))
    finally:
        agent.terminate()
        agent.wait(10)
    r = c("run", "--rm", "-T", "agent", files=("ssh.yaml",))
    assert r.stdout == "agent at /run/buildkit/ssh_agent.0\n", r.stderr
    with c.d.api() as api:
        for path in (f"/images/{p}-ssh/history", f"/images/{p}-ssh/json"):
            assert sock not in api.get(path).text
        api.delete(f"/images/{p}-ssh")


def test_build_secrets_refused_by_dockers_engine(short_tmp: Any) -> None:
    """Docker's engine has no POST /build field for secrets (only BuildKit sessions):
    compose stops before sending anything rather than build without them."""
    sock = str(short_tmp / "d.sock")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env.update(DOCKER_HOST=f"unix://{sock}", BUILD_TOKEN="x",
               DOCKER_CONFIG=str(short_tmp / "cli"))
    dockerd = subprocess.Popen(
        ["dockerd", "--data-root", str(short_tmp / "data"), "--exec-root",
         str(short_tmp / "exec"), "--pidfile", str(short_tmp / "d.pid"), "-H", f"unix://{sock}",
         "--iptables=false", "--ip6tables=false", "--bridge=none"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([DOCKER, "version"], env=env, capture_output=True).returncode:
            assert dockerd.poll() is None and time.monotonic() < deadline, "dockerd did not start"
            time.sleep(0.2)
        r = subprocess.run([DOCKYARD, "compose", "-f", str(HERE / "build_secrets" / "compose.yaml"),
                            "-p", "secrets", "build"], env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0, r.stdout
        assert "service 'app': build.secrets cannot be sent to this engine" in r.stderr, r.stderr
        images = subprocess.run([DOCKER, "images", "-aq"], env=env, capture_output=True,
                                text=True, check=True)
        assert images.stdout == ""  # nothing was built there
    finally:
        dockerd.terminate()
        try:
            dockerd.wait(30)
        except subprocess.TimeoutExpired:
            dockerd.kill()
            dockerd.wait()
        try:  # its containerd, if it outlived dockerd
            pid = (short_tmp / "exec" / "containerd" / "containerd.pid").read_text().strip()
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
