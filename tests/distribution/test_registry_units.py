"""In-process checks of the registry's grammar, access rules and config."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.distribution.errors import (
    ConfigError,
    DigestInvalidError,
    NameInvalidError,
    RangeInvalidError,
)
from dockyard.distribution.names import NAME_RE, check_name, parse_reference
from dockyard.distribution.registry.auth import AccessControl, parse_scope
from dockyard.distribution.registry.config import AccessRule, load_config
from dockyard.distribution.registry.uploads import parse_content_range


@pytest.mark.parametrize("name", ["a", "library/busybox", "a.b_c__d--e/f0", "x" * 255, "a-----b"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "a/../b", "../a", "a/.b", "a___b", "a_", "/a", "a b",
                                  "a\x00b", "é", "x" * 256])
def test_invalid_names(name: str) -> None:
    with pytest.raises(NameInvalidError):
        check_name(name)


@given(st.text(alphabet="ab./_-", max_size=12))
def test_no_valid_name_is_a_path_escape(name: str) -> None:
    if NAME_RE.fullmatch(name):
        parts = name.split("/")
        assert all(p and p not in (".", "..") and not p.startswith((".", "-", "_")) for p in parts)


def test_references() -> None:
    assert parse_reference("latest") == "latest"
    d = "sha256:" + "a" * 64
    assert parse_reference(d) == d
    with pytest.raises(DigestInvalidError):
        parse_reference("sha256:short")
    with pytest.raises(ValueError, match="invalid tag"):
        parse_reference("-x")


def test_scopes_and_rules() -> None:
    assert parse_scope("repository:a/b:pull,push") is not None
    s = parse_scope("repository(plugin):host:5000/a:pull")
    assert s is not None and (s.type, s.name, s.actions) == ("repository", "host:5000/a", ("pull",))
    assert parse_scope("nonsense") is None
    acl = AccessControl((
        AccessRule("", "pub/*", frozenset({"pull"})),
        AccessRule("*", "team/*", frozenset({"pull", "push"})),
        AccessRule("root", "*", frozenset({"pull", "push", "delete"})),
    ))
    assert acl.allowed(None, "repository", "pub/x") == {"pull"}
    assert acl.allowed(None, "repository", "team/x") == set()
    assert acl.allowed("joe", "repository", "pub/x") == {"pull"}  # what anyone may do
    assert acl.allowed("joe", "repository", "team/a/b") == {"pull", "push"}
    assert acl.allowed("joe", "repository", "other") == set()
    assert acl.allowed("root", "repository", "other") == {"pull", "push", "delete"}
    assert AccessControl(None).allowed("joe", "repository", "x") == {"pull", "push", "delete"}
    assert AccessControl(None).allowed(None, "repository", "x") == set()


def test_content_range() -> None:
    assert parse_content_range("0-99") == (0, 99)
    assert parse_content_range("bytes 100-199/*") == (100, 199)
    for bad in ("5-1", "-1-3", "x", "1-"):
        with pytest.raises(RangeInvalidError):
            parse_content_range(bad)


def test_config_defaults_and_errors(tmp_path: Path) -> None:
    cfg = load_config(None, root=str(tmp_path))
    assert cfg.auth_mode == "none" and cfg.addr == "127.0.0.1:5000" and cfg.delete_enabled
    with pytest.raises(ConfigError, match="storage.root"):
        load_config(None)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        load_config(None, root=str(tmp_path), addr="nowhere")
    with pytest.raises(ConfigError, match="only served on loopback"):
        load_config(None, root=str(tmp_path), addr="10.0.0.1:5000")
    assert load_config(None, root=str(tmp_path), addr="10.0.0.1:5000", insecure_http=True)
    with pytest.raises(ConfigError, match="both certificate and key"):
        load_config(None, root=str(tmp_path), tls_cert="/x")
