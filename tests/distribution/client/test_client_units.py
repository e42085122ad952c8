"""The client's small parts: endpoints and insecure registries, challenges,
config.json keys, X-Registry-Auth, progress messages, unreachable registries."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _clienttools import free_port

from dockyard.distribution.client import RegistryOptions, pull
from dockyard.distribution.client.auth import parse_challenges
from dockyard.distribution.client.config import auth_key
from dockyard.distribution.client.credentials import ConfigFile, Credentials, decode_registry_auth
from dockyard.distribution.client.errors import CredentialsError, RegistryUnreachableError
from dockyard.distribution.client.progress import Progress, bar
from dockyard.images import ImageService


def test_endpoints_insecure_registries_and_mirrors() -> None:
    opts = RegistryOptions(insecure_registries=("reg.example:5000", "10.1.0.0/16"),
                           mirrors=("http://mirror.local:5000", "https://m2.example"))
    assert all(opts.is_insecure(h) for h in ("127.0.0.1:5000", "localhost:1", "[::1]:5000", "::1",
                                             "reg.example:5000", "10.1.2.3:443"))
    assert not any(opts.is_insecure(h) for h in ("reg.example:5001", "10.2.0.1", "example.com"))
    groups = opts.endpoints("docker.io")
    assert [[e.url for e in g] for g in groups] == [
        ["http://mirror.local:5000"], ["https://m2.example"], ["https://registry-1.docker.io"]]
    assert [g[0].mirror for g in groups] == [True, True, False]
    assert [[e.url for e in g] for g in opts.endpoints("docker.io", for_pull=False)] == [
        ["https://registry-1.docker.io"]]
    # Secure: HTTPS only, verified. Insecure: HTTPS unverified, then HTTP.
    [[secure]] = opts.endpoints("example.com")
    assert secure.url == "https://example.com" and secure.verify.verify_mode != 0  # type: ignore[union-attr]
    [[https, http]] = opts.endpoints("reg.example:5000")
    assert (https.url, http.url) == ("https://reg.example:5000", "http://reg.example:5000")
    assert https.verify.verify_mode == 0  # type: ignore[union-attr]


def test_challenges_and_keys() -> None:
    [c] = parse_challenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                           'scope="repository:library/busybox:pull,push",error="insufficient_scope"')
    assert (c.scheme, c.realm, c.params["scope"], c.params["error"]) == (
        "bearer", "https://auth.docker.io/token", "repository:library/busybox:pull,push", "insufficient_scope")
    [b] = parse_challenges('Basic realm="Registry Realm"')
    assert (b.scheme, b.realm) == ("basic", "Registry Realm")
    assert auth_key("docker.io") == "https://index.docker.io/v1/" and auth_key("h:5000") == "h:5000"


def test_config_json_and_registry_auth(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {
        "https://old.example/v1/": {"auth": base64.b64encode(b"u:p:with:colons").decode()},
        "tok.example": {"identitytoken": "refresh", "auth": base64.b64encode(b"u:").decode()}},
        "detachKeys": "ctrl-q"}))
    cfg = ConfigFile(str(path))
    assert cfg.get("old.example") == Credentials("u", "p:with:colons")
    assert cfg.get("tok.example").identity_token == "refresh"
    assert cfg.get("none.example").empty
    cfg.store("new.example", Credentials("a", "b"))
    doc = json.loads(path.read_text())
    assert doc["detachKeys"] == "ctrl-q" and doc["auths"]["new.example"] == {"auth": "YTpi"}
    path.write_text("{not json")
    with pytest.raises(CredentialsError, match="not valid JSON"):
        ConfigFile(str(path))
    header = base64.urlsafe_b64encode(json.dumps({"username": "u", "password": "p?>"}).encode()).decode()
    assert decode_registry_auth(header) == Credentials("u", "p?>")
    assert decode_registry_auth("") == Credentials()
    with pytest.raises(CredentialsError, match="X-Registry-Auth"):
        decode_registry_auth("%%%")


def test_progress_messages() -> None:
    seen: list[dict[str, object]] = []
    p = Progress(seen.append)
    p.layer("Pulling fs layer", "sha256:" + "ab" * 32)
    p.bytes("Downloading", "sha256:" + "ab" * 32, 500, 1000)
    p.bytes("Downloading", "sha256:" + "ab" * 32, 600, 1000)  # too soon: dropped
    p.bytes("Downloading", "sha256:" + "ab" * 32, 1000, 1000)  # the last one always goes
    assert seen[0] == {"status": "Pulling fs layer", "progressDetail": {}, "id": "abababababab"}
    assert [m["progressDetail"] for m in seen[1:]] == [{"current": 500, "total": 1000},
                                                       {"current": 1000, "total": 1000}]
    assert bar(500, 1000).startswith("[" + "=" * 25 + ">") and bar(500, 1000).endswith("500B/1kB")


def test_unreachable_registry_is_a_clear_error(stores: Callable[[str], ImageService]) -> None:
    dst = stores("dst")
    port = free_port()  # nothing listens there
    with pytest.raises(RegistryUnreachableError, match=f"cannot reach the registry: https://127.0.0.1:{port}"):
        pull(dst, f"127.0.0.1:{port}/x/y:1")
    assert dst.list() == []
