"""The registry's configuration: ``--config FILE`` (YAML), then flags.

The file follows distribution's ``config.yml`` where the two meet::

    http:
      addr: 127.0.0.1:5000
      tls: {certificate: /path/cert.pem, key: /path/key.pem}
    storage:
      root: /var/lib/dockyard/registry
      delete: {enabled: true}        # DELETE of manifests, tags and blobs
      gc: {interval: 0, grace: 3600} # online GC every N s (0: only on demand);
                                     # unreferenced blobs younger than grace are kept
      uploads: {ttl: 86400}          # an upload idle this long may be collected
    auth:
      htpasswd: {realm: dockyard-registry, path: /etc/dockyard/htpasswd}
      token:                          # present: the token flow, with a built-in endpoint
        realm: ""                     # default: <scheme>://<host>/token (this server)
        service: dockyard-registry
        issuer: dockyard-registry
        expiration: 300
        key: ""                       # EC private key (PEM); default <root>/token-key.pem
      access:                         # default: any authenticated user may do anything
        - {account: alice, name: "alice/*", actions: [pull, push, delete]}
        - {account: "", name: "public/*", actions: [pull]}   # "" is anonymous

``account: "*"`` is every authenticated user; ``name`` is an fnmatch pattern
over repository names (``*`` crosses ``/``), ``type`` defaults to
``repository`` (``registry`` with name ``catalog`` guards ``/v2/_catalog``).
Actions: ``pull``, ``push``, ``delete``, ``*``.

With ``auth.token`` the htpasswd file authenticates users at the token
endpoint only; requests to ``/v2/`` carry bearer tokens.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import ConfigError

ACTIONS = ("pull", "push", "delete")


@dataclass(frozen=True)
class AccessRule:
    account: str  # "" anonymous, "*" any authenticated user
    name: str  # fnmatch pattern
    actions: frozenset[str]
    type: str = "repository"


@dataclass(frozen=True)
class TokenConfig:
    realm: str = ""
    service: str = "dockyard-registry"
    issuer: str = "dockyard-registry"
    expiration: int = 300
    key: str = ""


@dataclass(frozen=True)
class Config:
    root: str
    addr: str = "127.0.0.1:5000"
    tls_cert: str = ""
    tls_key: str = ""
    delete_enabled: bool = True
    gc_interval: float = 0.0
    gc_grace: float = 3600.0
    upload_ttl: float = 86400.0
    htpasswd: str = ""
    realm: str = "dockyard-registry"
    token: TokenConfig | None = None
    access: tuple[AccessRule, ...] | None = None  # None: authenticated users may do anything
    insecure_http: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def auth_mode(self) -> str:
        if self.token is not None:
            return "token"
        return "htpasswd" if self.htpasswd else "none"

    @property
    def host(self) -> str:
        return split_addr(self.addr)[0]

    @property
    def port(self) -> int:
        return split_addr(self.addr)[1]


def split_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"http.addr {addr!r}: expected HOST:PORT, e.g. 127.0.0.1:5000")
    return host.strip("[]") or "0.0.0.0", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(
    path: str | None,
    *,
    root: str | None = None,
    addr: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    insecure_http: bool = False,
) -> Config:
    """Read ``path`` (if any) and apply the flags over it; validate everything."""
    doc: dict[str, Any] = {}
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                loaded = yaml.safe_load(f)
        except OSError as e:
            raise ConfigError(f"config {path}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"config {path}: invalid YAML: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config {path}: expected a mapping at the top level")
        doc = loaded or {}
    http = _section(doc, "http")
    storage = _section(doc, "storage")
    auth = _section(doc, "auth")
    tls = _section(http, "tls", "http.")
    root = root or _str(storage, "root", "storage.", "")
    if not root:
        raise ConfigError("storage.root: missing; give --root DIR or storage.root in the config")
    cfg_addr = addr or _str(http, "addr", "http.", "127.0.0.1:5000")
    split_addr(cfg_addr)
    cert = tls_cert or _str(tls, "certificate", "http.tls.", "")
    key = tls_key or _str(tls, "key", "http.tls.", "")
    if bool(cert) != bool(key):
        raise ConfigError("http.tls: give both certificate and key, or neither")
    host = split_addr(cfg_addr)[0]
    if not cert and not insecure_http and not is_loopback(host):
        raise ConfigError(
            f"http.addr {cfg_addr!r}: plain HTTP is only served on loopback; give "
            f"--tls-cert/--tls-key (http.tls) or --insecure-http"
        )
    gc = _section(storage, "gc", "storage.")
    uploads = _section(storage, "uploads", "storage.")
    delete = _section(storage, "delete", "storage.")
    htpasswd_sec = _section(auth, "htpasswd", "auth.")
    htpasswd = _str(htpasswd_sec, "path", "auth.htpasswd.", "")
    token: TokenConfig | None = None
    if "token" in auth:
        t = _section(auth, "token", "auth.")
        token = TokenConfig(
            realm=_str(t, "realm", "auth.token.", ""),
            service=_str(t, "service", "auth.token.", "dockyard-registry"),
            issuer=_str(t, "issuer", "auth.token.", "dockyard-registry"),
            expiration=int(_num(t, "expiration", "auth.token.", 300, minimum=1)),
            key=_str(t, "key", "auth.token.", ""),
        )
        if not htpasswd:
            raise ConfigError("auth.token: needs auth.htpasswd.path to authenticate users")
    if htpasswd and not os.path.isfile(htpasswd):
        raise ConfigError(f"auth.htpasswd.path {htpasswd!r}: no such file")
    return Config(
        root=os.path.abspath(root),
        addr=cfg_addr,
        tls_cert=cert,
        tls_key=key,
        delete_enabled=_bool(delete, "enabled", "storage.delete.", True),
        gc_interval=_num(gc, "interval", "storage.gc.", 0, minimum=0),
        gc_grace=_num(gc, "grace", "storage.gc.", 3600, minimum=0),
        upload_ttl=_num(uploads, "ttl", "storage.uploads.", 86400, minimum=1),
        htpasswd=htpasswd,
        realm=_str(htpasswd_sec, "realm", "auth.htpasswd.", "dockyard-registry"),
        token=token,
        access=_access(auth.get("access")),
        insecure_http=insecure_http,
    )


def _section(doc: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}{key}: expected a mapping, got {type(value).__name__}")
    return value


def _str(doc: dict[str, Any], key: str, where: str, default: str) -> str:
    value = doc.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ConfigError(f"{where}{key}: expected a string, got {value!r}")
    return value


def _num(doc: dict[str, Any], key: str, where: str, default: float, *, minimum: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{where}{key}: expected a number >= {minimum}, got {value!r}")
    return float(value)


def _bool(doc: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}{key}: expected true or false, got {value!r}")
    return value


def _access(value: Any) -> tuple[AccessRule, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError("auth.access: expected a list of rules")
    rules = []
    for i, r in enumerate(value):
        where = f"auth.access[{i}]."
        if not isinstance(r, dict):
            raise ConfigError(f"auth.access[{i}]: expected a mapping")
        actions = r.get("actions", [])
        if not isinstance(actions, list) or not all(
            a in (*ACTIONS, "*") for a in actions
        ):
            raise ConfigError(
                f"{where}actions: expected a list of pull, push, delete or *, got {actions!r}"
            )
        expanded = frozenset(ACTIONS) if "*" in actions else frozenset(actions)
        rtype = _str(r, "type", where, "repository")
        if rtype not in ("repository", "registry"):
            raise ConfigError(f"{where}type: expected repository or registry, got {rtype!r}")
        if rtype == "registry":
            expanded = frozenset({"*"}) if actions else frozenset()
        rules.append(AccessRule(
            account=_str(r, "account", where, "*"),
            name=_str(r, "name", where, "*"),
            actions=expanded,
            type=rtype,
        ))
    return tuple(rules)
