"""docker pull/push/login/search through the daemon, against ``dockyard registry``.

The real docker CLI (and docker-py) drive a private daemon; the registries
are ``dockyard registry`` processes on free loopback ports (loopback is
insecure by default, as in Docker): one open, one with htpasswd basic auth,
one with the token flow. Every test uses its own repositories.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from daemon_helpers import DOCKER, DOCKYARD, Daemon, new_daemon

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "distribution"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "distribution", "client"))

from _clienttools import PASSWORDS, write_htpasswd
from _regtools import Running, start_registry

pytestmark = pytest.mark.needs_root


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Running]]:
    base = tmp_path_factory.mktemp("regs")
    users = write_htpasswd(base / "htpasswd")
    htpasswd = {"realm": "dy-test", "path": str(users)}
    regs = {"open": start_registry(base / "open")}
    try:
        regs["basic"] = start_registry(base / "basic", {"auth": {"htpasswd": htpasswd}})
        regs["token"] = start_registry(base / "token", {"auth": {
            "htpasswd": htpasswd, "token": {"service": "dy-svc", "issuer": "dy-iss", "expiration": 60}}})
        yield regs
    finally:
        for r in regs.values():
            r.stop()


def cli(d: Daemon, config: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """The docker CLI with a private DOCKER_CONFIG (its config.json is the test's to read)."""
    env = {**os.environ, "DOCKER_HOST": d.host, "DOCKER_CONFIG": str(config)}
    return subprocess.run([DOCKER, *args], input=input, capture_output=True, env=env, timeout=60)  # type: ignore[call-overload, no-any-return]


def out(r: subprocess.CompletedProcess[bytes]) -> str:
    return (r.stdout + r.stderr).decode(errors="replace")


def image_id(d: Daemon, ref: str) -> str:
    return d.docker("image", "inspect", "-f", "{{.Id}}", ref, check=True).stdout.decode().strip()


def test_push_rmi_pull_run_with_the_docker_cli(shared_daemon: Daemon, registries: dict[str, Running],
                                               unique: str, tmp_path: Path) -> None:
    d, host = shared_daemon, registries["open"].host
    ref = f"{host}/{unique}/bb:1"
    d.docker("tag", "busybox", ref, check=True)
    want = image_id(d, ref)
    r = cli(d, tmp_path, "push", ref)
    assert r.returncode == 0, out(r)
    text = out(r)
    assert f"The push refers to repository [{host}/{unique}/bb]" in text
    assert "Pushed" in text and "1: digest: sha256:" in text
    # A second push skips every blob the registry has.
    r = cli(d, tmp_path, "push", ref)
    assert r.returncode == 0 and "Layer already exists" in out(r), out(r)

    d.docker("rmi", ref, check=True)
    assert d.docker("image", "inspect", ref).returncode != 0
    r = cli(d, tmp_path, "pull", ref)
    assert r.returncode == 0, out(r)
    assert "1: Pulling from " + f"{unique}/bb" in out(r)
    assert "Digest: sha256:" in out(r) and "Status: Downloaded newer image for " + ref in out(r)
    assert r.stdout.decode().strip().endswith(ref)
    assert image_id(d, ref) == want
    run = d.docker("run", "--rm", ref, "echo", "pulled-and-run", check=True)
    assert run.stdout == b"pulled-and-run\n"
    # No tag at all: every tag of the repository (docker pull --all-tags).
    d.docker("tag", "busybox", f"{host}/{unique}/bb:2", check=True)
    assert cli(d, tmp_path, "push", f"{host}/{unique}/bb:2").returncode == 0
    d.docker("rmi", ref, f"{host}/{unique}/bb:2", check=True)
    r = cli(d, tmp_path, "pull", "--all-tags", f"{host}/{unique}/bb")
    assert r.returncode == 0, out(r)
    assert image_id(d, ref) == image_id(d, f"{host}/{unique}/bb:2") == want
    d.docker("rmi", ref, f"{host}/{unique}/bb:2", check=True)


def test_missing_tag_and_bad_input(shared_daemon: Daemon, registries: dict[str, Running],
                                   unique: str, tmp_path: Path) -> None:
    d, host = shared_daemon, registries["open"].host
    d.docker("tag", "busybox", f"{host}/{unique}/bb:1", check=True)
    assert cli(d, tmp_path, "push", f"{host}/{unique}/bb:1").returncode == 0
    r = cli(d, tmp_path, "pull", f"{host}/{unique}/bb:nope")
    assert r.returncode == 1 and "Error response from daemon" in out(r), out(r)
    assert "manifest unknown" in out(r) or "not found" in out(r)
    assert d.docker("image", "inspect", f"{host}/{unique}/bb:nope").returncode != 0
    with d.api() as api:
        # An error before anything was streamed is a plain HTTP error (the 404 docker run uses).
        r2 = api.post("/v1.50/images/create", params={"fromImage": f"{host}/{unique}/none", "tag": "x"})
        assert r2.status_code == 404 and "message" in r2.json()
        r2 = api.post("/v1.50/images/create", params={"tag": "x"})
        assert r2.status_code == 400 and "fromImage" in r2.json()["message"]
        r2 = api.post("/v1.50/images/create", params={"fromImage": f"{host}/{unique}/bb:1"},
                      headers={"X-Registry-Auth": "%%%not-base64"})
        assert r2.status_code == 400 and "X-Registry-Auth" in r2.json()["message"]
        r2 = api.post("/v1.50/images/create", params={"fromSrc": "http://example.com/x.tar"})
        assert r2.status_code == 400 and "fromSrc" in r2.json()["message"]
        r2 = api.post("/v1.50/images/create", params={"fromImage": "a//b", "tag": "1"})
        assert r2.status_code == 400 and "invalid reference format" in r2.json()["message"]
        r2 = api.post(f"/v1.50/images/{host}/{unique}/never-here/push", params={"tag": "1"})
        assert r2.status_code == 404
        assert "An image does not exist locally with the tag" in r2.json()["message"]
        r2 = api.post("/v1.50/auth", json={"serveraddress": host})
        assert r2.status_code == 400 and "username and password" in r2.json()["message"]
        r2 = api.get("/v1.50/images/search", params={"term": f"{host}/x"})
        assert r2.status_code == 404 and "does not support search" in r2.json()["message"]
        r2 = api.get("/v1.50/images/search", params={"term": f"{host}/x", "filters": '{"bogus":["1"]}'})
        assert r2.status_code == 400 and "bogus" in r2.json()["message"]
    d.docker("rmi", f"{host}/{unique}/bb:1", check=True)


def test_login_then_push_to_an_htpasswd_registry(shared_daemon: Daemon, registries: dict[str, Running],
                                                  unique: str, tmp_path: Path) -> None:
    d, host = shared_daemon, registries["basic"].host
    ref = f"{host}/{unique}/bb:2"
    d.docker("tag", "busybox", ref, check=True)
    r = cli(d, tmp_path, "push", ref)
    assert r.returncode == 1 and "unauthorized" in out(r).lower(), out(r)

    r = cli(d, tmp_path, "login", "-u", "alice", "--password-stdin", host, input=b"wrong\n")
    assert r.returncode == 1 and "unauthorized" in out(r).lower(), out(r)
    assert not (tmp_path / "config.json").exists() or host not in (tmp_path / "config.json").read_text()

    r = cli(d, tmp_path, "login", "-u", "alice", "--password-stdin", host,
            input=PASSWORDS["alice"].encode() + b"\n")
    assert r.returncode == 0 and "Login Succeeded" in out(r), out(r)
    auths = json.loads((tmp_path / "config.json").read_text())["auths"]
    assert base64.b64decode(auths[host]["auth"]).decode() == f"alice:{PASSWORDS['alice']}"

    r = cli(d, tmp_path, "push", ref)
    assert r.returncode == 0 and "2: digest: sha256:" in out(r), out(r)
    want = image_id(d, ref)
    d.docker("rmi", ref, check=True)
    r = cli(d, tmp_path, "pull", ref)
    assert r.returncode == 0, out(r)
    assert image_id(d, ref) == want
    d.docker("rmi", ref, check=True)


def test_token_flow_login_and_docker_py(shared_daemon: Daemon, registries: dict[str, Running],
                                        unique: str, tmp_path: Path) -> None:
    d, host = shared_daemon, registries["token"].host
    repo = f"{host}/{unique}/py"
    with d.api() as api:
        r = api.post("/v1.50/auth", json={"username": "bob", "password": PASSWORDS["bob"],
                                          "serveraddress": host})
        assert r.status_code == 200 and r.json()["Status"] == "Login Succeeded", r.text
        # The token endpoint handed out a refresh token: the CLI keeps it instead of the password.
        assert r.json()["IdentityToken"]
        r = api.post("/v1.50/auth", json={"username": "bob", "password": "nope", "serveraddress": host})
        assert r.status_code == 401 and r.json()["message"]

    creds = {"username": "bob", "password": PASSWORDS["bob"]}
    client = docker.DockerClient(base_url=d.host, version="auto")
    try:
        client.images.get("busybox").tag(repo, "3")
        want = client.images.get(f"{repo}:3").id
        with pytest.raises(docker.errors.APIError):
            # Without credentials the token endpoint refuses: the stream ends in an error.
            for msg in client.images.push(repo, "3", stream=True, decode=True):
                if "error" in msg:
                    raise docker.errors.APIError(msg["error"])
        msgs = list(client.images.push(repo, "3", stream=True, decode=True, auth_config=creds))
        assert not [m for m in msgs if "error" in m], msgs
        assert any(m.get("aux", {}).get("Tag") == "3" for m in msgs)
        assert any(m.get("progressDetail", {}).get("total") for m in msgs if m.get("status") == "Pushing")
        client.images.remove(f"{repo}:3")
        img = client.images.pull(repo, tag="3", auth_config=creds)
        assert img.id == want
        with pytest.raises(docker.errors.APIError):
            client.images.pull(repo, tag="3", auth_config={"username": "bob", "password": "bad"})
        client.images.remove(f"{repo}:3")
    finally:
        client.close()
    # docker login through the token flow stores the identity token; push and pull use it.
    r2 = cli(d, tmp_path, "login", "-u", "bob", "--password-stdin", host, input=PASSWORDS["bob"].encode())
    assert r2.returncode == 0 and "Login Succeeded" in out(r2), out(r2)
    entry = json.loads((tmp_path / "config.json").read_text())["auths"][host]
    assert entry["identitytoken"] and PASSWORDS["bob"] not in json.dumps(entry)
    d.docker("tag", "busybox", f"{repo}:4", check=True)
    r2 = cli(d, tmp_path, "push", f"{repo}:4")
    assert r2.returncode == 0 and "4: digest: sha256:" in out(r2), out(r2)
    d.docker("rmi", f"{repo}:4", check=True)
    r2 = cli(d, tmp_path, "pull", f"{repo}:4")
    assert r2.returncode == 0, out(r2)
    d.docker("rmi", f"{repo}:4", check=True)


def test_push_and_pull_over_tls(shared_daemon: Daemon, unique: str, tmp_path: Path) -> None:
    """The daemon imports its server without ``ssl`` (cli/daemon.py, for memory);
    the registry client must still speak TLS (loopback: unverified, as in Docker)."""
    from test_registry_auth import self_signed

    cert, key = self_signed(tmp_path / "pki")
    reg = start_registry(tmp_path / "tls", args=("--tls-cert", str(cert), "--tls-key", str(key)))
    try:
        assert reg.url.startswith("https://")
        d, ref = shared_daemon, f"{reg.host}/{unique}/tls:1"
        d.docker("tag", "busybox", ref, check=True)
        want = image_id(d, ref)
        r = cli(d, tmp_path, "push", ref)
        assert r.returncode == 0 and "1: digest: sha256:" in out(r), out(r)
        d.docker("rmi", ref, check=True)
        r = cli(d, tmp_path, "pull", ref)
        assert r.returncode == 0, out(r)
        assert image_id(d, ref) == want
        d.docker("rmi", ref, check=True)
    finally:
        reg.stop()


def test_daemon_registry_config_is_checked(tmp_path: Path) -> None:
    conf = tmp_path / "daemon.json"
    for doc, expect in (({"registry-mirrors": ["mirror.example"]}, "http:// or https:// URL"),
                        ({"insecure-registries": "10.0.0.0/8"}, "insecure-registries: expected a list")):
        conf.write_text(json.dumps(doc))
        r = subprocess.run([DOCKYARD, "daemon", "--root", str(tmp_path / "root"), "--config-file", str(conf)],
                           capture_output=True, timeout=30)
        assert r.returncode == 2 and expect in r.stderr.decode(), r.stderr
        assert not (tmp_path / "root").exists()


def test_daemon_pulls_docker_io_names_through_its_mirror(shared_daemon: Daemon, registries: dict[str, Running],
                                                         unique: str, tmp_path: Path) -> None:
    host = registries["open"].host
    shared_daemon.docker("tag", "busybox", f"{host}/library/{unique}:1", check=True)
    assert cli(shared_daemon, tmp_path, "push", f"{host}/library/{unique}:1").returncode == 0
    shared_daemon.docker("rmi", f"{host}/library/{unique}:1", check=True)
    conf = tmp_path / "daemon.json"
    conf.write_text(json.dumps({"registry-mirrors": [f"http://{host}"]}))
    d = new_daemon(["--bridge", "none", "--config-file", str(conf), "--insecure-registry", "10.0.0.0/8"])
    try:
        r = cli(d, tmp_path, "pull", f"{unique}:1")  # docker.io/library/<unique>:1, from the mirror
        assert r.returncode == 0 and f"docker.io/library/{unique}:1" in out(r), out(r)
        assert d.docker("run", "--rm", f"{unique}:1", "echo", "via-mirror", check=True).stdout == b"via-mirror\n"
    finally:
        d.cleanup()


def test_import_from_the_request_body(shared_daemon: Daemon, unique: str, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("imported\n")
    with tarfile.open(tmp_path / "fs.tar", "w") as t:
        t.add(tmp_path / "hello.txt", arcname="hello.txt")
    r = cli(shared_daemon, tmp_path, "import", "-c", "CMD [\"/hello.txt\"]", str(tmp_path / "fs.tar"),
            f"{unique}-imp:1")
    assert r.returncode == 0 and r.stdout.decode().startswith("sha256:"), out(r)
    got = shared_daemon.docker("image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", f"{unique}-imp:1",
                               check=True).stdout.decode().split(" ", 1)
    assert got == [r.stdout.decode().strip(), '["/hello.txt"]\n']
    shared_daemon.docker("rmi", f"{unique}-imp:1", check=True)
