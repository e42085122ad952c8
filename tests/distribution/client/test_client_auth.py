"""Auth against our ``dockyard registry``: the token flow (login, scopes,
anonymous, a wrong scope, an expired token), htpasswd Basic, Docker's
config.json and a real credential helper program."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _clienttools import PASSWORDS, credential_helper, write_htpasswd
from _regtools import Running

from dockyard.distribution.client import login, logout, pull, push
from dockyard.distribution.client.credentials import ConfigFile, decode_registry_auth
from dockyard.distribution.errors import DeniedError, UnauthorizedError
from dockyard.images import ImageService

ACCESS = [
    {"account": "alice", "name": "*", "actions": ["*"]},
    {"account": "bob", "name": "bob/*", "actions": ["pull", "push"]},
    {"account": "bob", "name": "shared/*", "actions": ["pull"]},
    {"account": "", "name": "shared/*", "actions": ["pull"]},
]


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    return d / "config.json"


@pytest.fixture
def token_registry(registry_factory: Callable[..., Running], tmp_path: Path) -> Running:
    users = write_htpasswd(tmp_path / "htpasswd")
    return registry_factory({"auth": {"htpasswd": {"path": str(users)},
                                      "token": {"service": "test-svc", "issuer": "test-iss",
                                                "expiration": 60},
                                      "access": ACCESS}})


def test_token_flow_login_push_pull_and_scopes(token_registry: Running, docker_config: Path,
                                               busybox_store: ImageService,
                                               stores: Callable[[str], ImageService]) -> None:
    host = token_registry.host
    with pytest.raises(UnauthorizedError, match="incorrect username or password"):
        login(host, "alice", "wrong")
    assert not docker_config.exists()
    assert login(host, "alice", PASSWORDS["alice"]) == "Login Succeeded"
    # As Docker: the token server's refresh token is kept, not the password.
    doc = json.loads(docker_config.read_text())
    assert base64.b64decode(doc["auths"][host]["auth"]).decode() == "alice:"
    assert doc["auths"][host]["identitytoken"].count(".") == 2  # a JWT
    assert PASSWORDS["alice"] not in docker_config.read_text()
    assert docker_config.stat().st_mode & 0o777 == 0o600

    src = busybox_store
    for name in ("shared/app:1", "alice/app:1"):
        src.tag("busybox:latest", f"{host}/{name}")
        push(src, f"{host}/{name}", config=ConfigFile())

    # Anonymous: shared/* may be pulled, alice/* may not; nothing half-registered.
    anon = stores("anon")
    assert pull(anon, f"{host}/shared/app:1")[0].id == src.get("busybox:latest").id
    with pytest.raises((UnauthorizedError, DeniedError)) as e:
        pull(anon, f"{host}/alice/app:1")
    assert "alice/app" in str(e.value)
    assert [i["RepoTags"] for i in anon.list()] == [[f"{host}/shared/app:1"]]

    # With alice's credentials from config.json.
    mine = stores("mine")
    assert pull(mine, f"{host}/alice/app:1", config=ConfigFile())[0].id == src.get("busybox:latest").id

    # bob may pull shared/* but not push there: a clear refusal, nothing stored.
    assert login(host, "bob", PASSWORDS["bob"]) == "Login Succeeded"
    src.tag("busybox:latest", f"{host}/shared/bob:1")
    with pytest.raises((DeniedError, UnauthorizedError)) as e:
        push(src, f"{host}/shared/bob:1", config=ConfigFile())
    assert "shared/bob" in str(e.value) or "denied" in str(e.value).lower()
    with token_registry.client() as c:
        tok = c.get("/token", params={"service": "test-svc", "scope": "repository:shared/bob:pull"}).json()
        r = c.get("/v2/shared/bob/tags/list", headers={"Authorization": f"Bearer {tok['token']}"})
        assert r.status_code == 404

    assert logout(host) == f"Removing login credentials for {host}"
    assert host not in json.loads(docker_config.read_text())["auths"]
    assert logout(host) == f"Not logged in to {host}"


def test_expired_registry_token_is_a_clear_error(token_registry: Running, docker_config: Path,
                                                busybox_store: ImageService,
                                                stores: Callable[[str], ImageService]) -> None:
    from dockyard.distribution.registry.auth import Access, TokenAuthority

    host = token_registry.host
    login(host, "alice", PASSWORDS["alice"])
    busybox_store.tag("busybox:latest", f"{host}/alice/exp:1")
    push(busybox_store, f"{host}/alice/exp:1", config=ConfigFile())
    authority = TokenAuthority(str(token_registry.root / "token-key.pem"), "test-iss", "test-svc", 60)
    grant = [Access("repository", "alice/exp", ("pull",))]
    expired = authority.issue("alice", grant, now=time.time() - 3600)["token"]
    docker_config.write_text(json.dumps({"auths": {host: {"registrytoken": expired}}}))
    dst = stores("dst")
    with pytest.raises(UnauthorizedError) as e:
        pull(dst, f"{host}/alice/exp:1", config=ConfigFile())
    assert "token" in str(e.value) and "expired" in str(e.value).lower(), e.value
    assert dst.list() == [] and list(dst.content.list()) == []
    # The same token, fresh, works: the refusal was about expiry.
    good = authority.issue("alice", grant)["token"]
    docker_config.write_text(json.dumps({"auths": {host: {"registrytoken": good}}}))
    assert pull(dst, f"{host}/alice/exp:1", config=ConfigFile())[0].id == busybox_store.get("busybox:latest").id


def test_htpasswd_basic_auth(registry_factory: Callable[..., Running], tmp_path: Path,
                             docker_config: Path, busybox_store: ImageService,
                             stores: Callable[[str], ImageService]) -> None:
    users = write_htpasswd(tmp_path / "htpasswd")
    reg = registry_factory({"auth": {"htpasswd": {"realm": "test-realm", "path": str(users)},
                                     "access": ACCESS}})
    ref = f"{reg.host}/bob/basic:1"
    busybox_store.tag("busybox:latest", ref)
    with pytest.raises(UnauthorizedError, match="no credentials"):
        push(busybox_store, ref, config=ConfigFile())
    with pytest.raises(UnauthorizedError):
        login(reg.host, "bob", "nope")
    login(reg.host, "bob", PASSWORDS["bob"])
    push(busybox_store, ref, config=ConfigFile())
    assert pull(stores("dst"), ref, config=ConfigFile())[0].id == busybox_store.get("busybox:latest").id
    # The engine's way: credentials from the API's X-Registry-Auth header, no config.json.
    header = base64.urlsafe_b64encode(json.dumps(
        {"username": "bob", "password": PASSWORDS["bob"], "serveraddress": reg.host}).encode()).decode().rstrip("=")
    assert pull(stores("api"), ref, auth=decode_registry_auth(header))[0].id == busybox_store.get("busybox:latest").id
    with pytest.raises(UnauthorizedError):
        pull(stores("api2"), ref, auth=decode_registry_auth(base64.b64encode(b'{"username":"bob"}').decode()))


def test_credential_helper(token_registry: Running, docker_config: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, busybox_store: ImageService,
                           stores: Callable[[str], ImageService]) -> None:
    host = token_registry.host
    secrets = tmp_path / "helper-secrets.json"
    helper = credential_helper(tmp_path / "bin", secrets)
    monkeypatch.setenv("PATH", f"{helper.parent}:{__import__('os').environ['PATH']}")
    docker_config.parent.mkdir(parents=True)
    docker_config.write_text(json.dumps({"credsStore": "dytest", "psFormat": "kept"}))
    login(host, "alice", PASSWORDS["alice"])
    doc = json.loads(docker_config.read_text())
    assert doc["auths"] == {host: {}} and doc["psFormat"] == "kept"  # secrets live in the helper
    [(user, secret)] = json.loads(secrets.read_text()).values()
    assert user == "<token>" and secret.count(".") == 2  # the identity token, as Docker stores it
    busybox_store.tag("busybox:latest", f"{host}/alice/helper:1")
    push(busybox_store, f"{host}/alice/helper:1", config=ConfigFile())
    assert pull(stores("dst"), f"{host}/alice/helper:1", config=ConfigFile())[0].id
    log = Path(str(secrets) + ".log").read_text().split()
    assert log[:2] == ["store", "{\"ServerURL\":"] and "get" in log
    assert logout(host).startswith("Removing login credentials")
    assert json.loads(secrets.read_text()) == {}
    # credHelpers picks a helper per registry, over credsStore.
    docker_config.write_text(json.dumps({"credsStore": "missing-helper", "credHelpers": {host: "dytest"}}))
    login(host, "bob", PASSWORDS["bob"])
    assert list(json.loads(secrets.read_text())) == [host]
    # A helper that is not installed is a clear error.
    from dockyard.distribution.client.errors import CredentialsError

    docker_config.write_text(json.dumps({"credsStore": "missing-helper"}))
    with pytest.raises(CredentialsError, match="docker-credential-missing-helper"):
        login(host, "bob", PASSWORDS["bob"])


def test_tokens_are_cached_per_scope(token_registry: Running, docker_config: Path,
                                     busybox_store: ImageService, stores: Callable[[str], ImageService]) -> None:
    from _clienttools import CuttingProxy

    host, port = token_registry.host.rsplit(":", 1)
    proxy = CuttingProxy((host, int(port)), after=1 << 40, cuts=0)
    try:
        login(proxy.host, "alice", PASSWORDS["alice"])
        ref = f"{proxy.host}/alice/cached:1"
        busybox_store.tag("busybox:latest", ref)
        push(busybox_store, ref, config=ConfigFile())
        pull(stores("a"), ref, config=ConfigFile())
        pull(stores("b"), ref, config=ConfigFile())
    finally:
        proxy.close()
    heads = [r.split(b"\r\n", 1)[0].decode() for r in proxy.requests if r[:4] in (b"GET ", b"POST", b"HEAD", b"PUT ")]
    tokens = [h for h in heads if h.startswith(("GET /token", "POST /token"))]
    # login (GET, no scope, offline), push and pull (POST with the identity
    # token): one each, though the pulls made many requests and the second
    # pull ran with a fresh store.
    assert len(tokens) == 3, tokens
    assert tokens[0].startswith("GET /token?service=test-svc&offline_token=true")
    assert tokens[1].startswith("POST /token") and tokens[2].startswith("POST /token")
    assert len([h for h in heads if "/v2/alice/cached/" in h]) > 6
