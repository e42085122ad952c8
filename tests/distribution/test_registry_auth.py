"""Auth of ``dockyard registry``: htpasswd basic auth, the token flow with its
built-in endpoint and per-repository scopes, TLS, and refusals."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import bcrypt
import httpx
import jwt
import pytest
from _regtools import Running
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_registry_api import error_code

from dockyard.distribution.registry.auth import Access, TokenAuthority

ALICE, BOB = ("alice", "wonderland"), ("bob", "builder")
ACCESS = [
    {"account": "alice", "name": "*", "actions": ["*"]},
    {"account": "bob", "name": "bob/*", "actions": ["pull", "push"]},
    {"account": "bob", "name": "shared/*", "actions": ["pull"]},
    {"account": "", "name": "public/*", "actions": ["pull"]},
    {"account": "*", "type": "registry", "name": "catalog", "actions": ["*"]},
]


def write_htpasswd(path: Path) -> Path:
    alice = bcrypt.hashpw(ALICE[1].encode(), bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")
    bob = "{SHA}" + base64.b64encode(hashlib.sha1(BOB[1].encode()).digest()).decode()
    path.write_text(f"# users\nalice:{alice}\nbob:{bob}\n")
    return path


def basic(user: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()}


def challenge(r: httpx.Response) -> dict[str, str]:
    scheme, _, params = r.headers["WWW-Authenticate"].partition(" ")
    out = dict(re.findall(r'(\w+)="([^"]*)"', params))
    out["scheme"] = scheme
    return out


@pytest.fixture
def basic_registry(registry_factory: Callable[..., Running], tmp_path: Path) -> Running:
    users = write_htpasswd(tmp_path / "htpasswd")
    return registry_factory({"auth": {"htpasswd": {"realm": "test-realm", "path": str(users)},
                                      "access": ACCESS}})


@pytest.fixture
def token_registry(registry_factory: Callable[..., Running], tmp_path: Path) -> Running:
    users = write_htpasswd(tmp_path / "htpasswd")
    return registry_factory({"auth": {"htpasswd": {"path": str(users)},
                                      "token": {"service": "test-svc", "issuer": "test-iss",
                                                "expiration": 60},
                                      "access": ACCESS}})


def test_htpasswd_basic_auth(basic_registry: Running) -> None:
    with basic_registry.client() as c:
        r = c.get("/v2/")
        assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
        assert r.headers["WWW-Authenticate"] == 'Basic realm="test-realm"'
        r = c.get("/v2/", headers=basic(("alice", "wrong")))
        assert r.status_code == 401 and "wrong user name or password" in r.json()["errors"][0]["message"]
        r = c.get("/v2/", headers=basic(("nobody", "x")))
        assert r.status_code == 401
        assert c.get("/v2/", headers=basic(ALICE)).status_code == 200  # bcrypt ($2y$)
        assert c.get("/v2/", headers=basic(BOB)).status_code == 200  # {SHA}
        r = c.post("/v2/bob/app/blobs/uploads/", headers=basic(BOB))
        assert r.status_code == 202
        # Bob may read shared/* but not push there, nor touch alice's repositories.
        r = c.post("/v2/shared/app/blobs/uploads/", headers=basic(BOB))
        assert r.status_code == 403 and error_code(r) == "DENIED"
        assert r.json()["errors"][0]["detail"] == [
            {"Type": "repository", "Name": "shared/app", "Action": "pull,push"}]
        r = c.get("/v2/alice/x/tags/list", headers=basic(BOB))
        assert r.status_code == 403 and error_code(r) == "DENIED"
        # Anonymous pulls where a rule allows them; nothing else.
        r = c.get("/v2/public/x/tags/list")
        assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
        r = c.post("/v2/public/x/blobs/uploads/")
        assert r.status_code == 401
        assert c.get("/v2/_catalog", headers=basic(BOB)).status_code == 200
        assert c.get("/v2/_catalog").status_code == 401


def _token(c: httpx.Client, realm: str, scope: str | None, user: tuple[str, str] | None,
           service: str = "test-svc") -> str:
    params = {"service": service}
    if scope:
        params["scope"] = scope
    r = c.get(realm, params=params, headers=basic(user) if user else {})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 60
    return str(body["token"])


def test_token_flow(token_registry: Running) -> None:
    with token_registry.client() as c:
        r = c.get("/v2/")
        assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
        ch = challenge(r)
        assert ch["scheme"] == "Bearer" and ch["service"] == "test-svc"
        assert ch["realm"] == f"{token_registry.url}/token"
        r = c.post("/v2/alice/app/blobs/uploads/")
        ch = challenge(r)
        assert r.status_code == 401 and ch["scope"] == "repository:alice/app:pull,push"
        token = _token(c, ch["realm"], ch["scope"], ALICE)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == "alice" and claims["aud"] == "test-svc" and claims["iss"] == "test-iss"
        assert claims["access"] == [{"type": "repository", "name": "alice/app",
                                     "actions": ["pull", "push"]}]
        auth = {"Authorization": f"Bearer {token}"}
        assert c.get("/v2/", headers=auth).status_code == 200
        assert c.post("/v2/alice/app/blobs/uploads/", headers=auth).status_code == 202
        # The token is for alice/app only.
        r = c.post("/v2/alice/other/blobs/uploads/", headers=auth)
        assert r.status_code == 401 and challenge(r)["error"] == "insufficient_scope"
        assert challenge(r)["scope"] == "repository:alice/other:pull,push"
        # The catalog has its own scope.
        r = c.get("/v2/_catalog", headers=auth)
        assert r.status_code == 401 and challenge(r)["scope"] == "registry:catalog:*"
        cat = _token(c, ch["realm"], "registry:catalog:*", BOB)
        r = c.get("/v2/_catalog", headers={"Authorization": f"Bearer {cat}"})
        assert r.status_code == 200 and "repositories" in r.json()


def test_token_scopes_are_granted_by_the_rules(token_registry: Running) -> None:
    with token_registry.client() as c:
        realm = f"{token_registry.url}/token"
        # Bob asks for push on shared/*: he gets only the pull the rules allow.
        token = _token(c, realm, "repository:shared/app:pull,push", BOB)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["access"] == [{"type": "repository", "name": "shared/app", "actions": ["pull"]}]
        auth = {"Authorization": f"Bearer {token}"}
        r = c.get("/v2/shared/app/tags/list", headers=auth)
        assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
        # Wrong scope, and the rules would never grant it: 403 DENIED, nothing stored.
        r = c.post("/v2/shared/app/blobs/uploads/", headers=auth)
        assert r.status_code == 403 and error_code(r) == "DENIED"
        data = b"not for bob to push"
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        r = c.post("/v2/shared/app/blobs/uploads/", params={"digest": d}, content=data, headers=auth)
        assert r.status_code == 403 and error_code(r) == "DENIED"
        assert not (token_registry.root / "content" / "blobs" / "sha256" / d[7:]).exists()
        assert list((token_registry.root / "content" / "ingest").iterdir()) == []
        # Anonymous: a token, but with only what anyone may do.
        anon = _token(c, realm, "repository:public/x:pull,push repository:alice/app:pull", None)
        claims = jwt.decode(anon, options={"verify_signature": False})
        assert claims["sub"] == "" and claims["access"] == [
            {"type": "repository", "name": "public/x", "actions": ["pull"]}]
        r = c.get("/v2/alice/app/tags/list", headers={"Authorization": f"Bearer {anon}"})
        assert r.status_code == 401 and challenge(r)["error"] == "insufficient_scope"
        # The token endpoint refuses wrong passwords and other services.
        r = c.get(realm, params={"service": "test-svc"}, headers=basic(("alice", "nope")))
        assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
        r = c.get(realm, params={"service": "elsewhere"}, headers=basic(ALICE))
        assert r.status_code == 403 and error_code(r) == "DENIED"


def test_expired_and_forged_tokens(token_registry: Running) -> None:
    key = str(token_registry.root / "token-key.pem")
    ours = TokenAuthority(key, "test-iss", "test-svc", 60)
    grant = [Access("repository", "alice/app", ("pull",))]
    expired = ours.issue("alice", grant, now=time.time() - 3600)["token"]
    forger = TokenAuthority(str(token_registry.root.parent / "other-key.pem"), "test-iss", "test-svc", 60)
    forged = forger.issue("alice", grant)["token"]
    wrong_aud = TokenAuthority(key, "test-iss", "other-svc", 60).issue("alice", grant)["token"]
    good = ours.issue("alice", grant)["token"]
    with token_registry.client() as c:
        for bad, why in ((expired, "expired"), (forged, "Signature"), (wrong_aud, "audience"),
                         ("not.a.jwt", "invalid token")):
            r = c.get("/v2/alice/app/tags/list", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED", why
            assert challenge(r)["error"] == "invalid_token"
            assert why.lower() in r.json()["errors"][0]["message"].lower(), r.json()
        # An expired push token stores nothing either.
        push_grant = [Access("repository", "alice/app", ("pull", "push"))]
        stale = ours.issue("alice", push_grant, now=time.time() - 3600)["token"]
        r = c.post("/v2/alice/app/blobs/uploads/", params={"digest": "sha256:" + "0" * 64},
                   content=b"x", headers={"Authorization": f"Bearer {stale}"})
        assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
        assert list((token_registry.root / "content" / "ingest").iterdir()) == []
        r = c.get("/v2/alice/app/tags/list", headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"


def self_signed(dest: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (dest / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return dest / "cert.pem", dest / "key.pem"


def test_tls(registry_factory: Callable[..., Running], tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "pki")
    r = registry_factory(args=("--tls-cert", str(cert), "--tls-key", str(key)))
    assert r.url.startswith("https://127.0.0.1:")
    with httpx.Client(base_url=r.url, verify=ssl.create_default_context(cafile=str(cert))) as c:
        assert c.get("/v2/").status_code == 200
    with httpx.Client(base_url=r.url) as c, pytest.raises(httpx.ConnectError):
        c.get("/v2/")  # not trusted without the certificate


def test_plain_http_only_on_loopback(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
         "--root", str(tmp_path / "r"), "--addr", "0.0.0.0:0"],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 125
    assert "plain HTTP is only served on loopback" in p.stderr


@pytest.mark.parametrize("doc,needle", [
    ("auth: {token: {}}", "auth.token: needs auth.htpasswd.path"),
    ("auth: {htpasswd: {path: /nonexistent/htpasswd}}", "no such file"),
    ("storage: {gc: {grace: -1}}", "storage.gc.grace"),
    ("auth: {access: [{account: a, actions: [fly]}]}", "auth.access[0].actions"),
    ("- a list", "expected a mapping"),
])
def test_bad_config(tmp_path: Path, doc: str, needle: str) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text(doc)
    p = subprocess.run(
        [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
         "--root", str(tmp_path / "r"), "--config", str(cfg)],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 125 and needle in p.stderr, p.stderr


def test_htpasswd_command_makes_a_working_entry(registry_factory: Callable[..., Running],
                                                tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
         "htpasswd", "carol", "--rounds", "4"],
        input="s3cret pass\n", capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("carol:$2y$04$")
    users = tmp_path / "htpasswd"
    users.write_text(p.stdout)
    reg = registry_factory({"auth": {"htpasswd": {"path": str(users)}}})
    with reg.client() as c:
        assert c.get("/v2/", headers=basic(("carol", "s3cret pass"))).status_code == 200
        assert c.get("/v2/", headers=basic(("carol", "s3cret"))).status_code == 401


def test_oauth2_token_endpoint_and_refresh_tokens(token_registry: Running) -> None:
    realm = f"{token_registry.url}/token"
    with token_registry.client() as c:
        r = c.post(realm, data={"grant_type": "password", "username": "alice", "password": "wonderland",
                                "service": "test-svc", "scope": "repository:alice/app:pull,push",
                                "client_id": "test", "access_type": "offline"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["scope"] == "repository:alice/app:pull,push" and "token" not in body
        access, refresh = body["access_token"], body["refresh_token"]
        auth = {"Authorization": f"Bearer {access}"}
        assert c.post("/v2/alice/app/blobs/uploads/", headers=auth).status_code == 202
        # A refresh token buys new access tokens, and is none itself.
        r = c.get("/v2/alice/app/tags/list", headers={"Authorization": f"Bearer {refresh}"})
        assert r.status_code == 401 and "refresh token" in r.json()["errors"][0]["message"]
        r = c.post(realm, data={"grant_type": "refresh_token", "refresh_token": refresh,
                                "service": "test-svc", "scope": "repository:alice/other:pull"})
        assert r.status_code == 200
        claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "alice" and claims["access"][0]["name"] == "alice/other"
        # GET with offline_token=true (docker login) returns one too.
        r = c.get(realm, params={"service": "test-svc", "offline_token": "true"}, headers=basic(BOB))
        assert jwt.decode(r.json()["refresh_token"], options={"verify_signature": False})["sub"] == "bob"
        # Refusals.
        r = c.post(realm, data={"grant_type": "password", "username": "alice", "password": "no"})
        assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
        r = c.post(realm, data={"grant_type": "refresh_token", "refresh_token": access})
        assert r.status_code == 401
        r = c.post(realm, data={"grant_type": "client_credentials"})
        assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
