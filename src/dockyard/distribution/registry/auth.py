"""Who may do what: htpasswd users, access rules, and bearer tokens.

Three modes (``Config.auth_mode``):

- ``none``: everyone may do everything (plain HTTP on loopback, tests, CI);
- ``htpasswd``: HTTP Basic on every request, checked against an htpasswd
  file (bcrypt ``$2y$``/``$2b$``/``$2a$`` entries, and ``{SHA}`` ones);
  a missing or wrong password is 401 with ``WWW-Authenticate: Basic``,
  a known user without the access is 403 DENIED;
- ``token``: Docker's token flow. A request without a valid bearer token is
  answered 401 with ``WWW-Authenticate: Bearer realm=…,service=…,scope=…``
  naming the scope it needs; the client asks the built-in endpoint
  (``GET /token?service=…&scope=repository:<name>:pull,push``, Basic
  credentials optional) for a JWT (ES256) whose ``access`` claim lists
  what it was granted — the intersection of what it asked for and what
  the access rules allow. An expired or forged token is 401 with
  ``error="invalid_token"``; a valid token that lacks the scope is 401 with
  ``error="insufficient_scope"`` when the rules would grant it on asking
  (the client fetches a new token and retries), and 403 DENIED when they
  would not. ``POST /token`` speaks the OAuth2 form of the same endpoint
  (``grant_type=password`` or ``refresh_token``); ``access_type=offline``
  there, or ``offline_token=true`` on the GET, adds a 30-day refresh token
  (Docker's "identity token") that buys access tokens and nothing else.

Access rules (``auth.access``) grant actions on repositories by account and
name pattern; without rules every authenticated user may do everything and
anonymous users nothing.

bcrypt is slow by design (~50-250 ms a check); a successful check is
remembered for a minute by a hash of the credentials, so a push of many
layers costs one bcrypt, not one per request.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import bcrypt
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dockyard.linux.atomic import write_bytes

from ..errors import ConfigError, DeniedError, UnauthorizedError, UnsupportedError
from .config import ACTIONS, AccessRule, Config

_CACHE_TTL = 60.0
REFRESH_TTL = 30 * 86400  # refresh (identity) tokens: 30 days


@dataclass(frozen=True)
class Access:
    """One resource and the actions a request needs on it (a token "scope")."""

    type: str
    name: str
    actions: tuple[str, ...]

    @property
    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scope(scope: str) -> Access | None:
    """``repository:foo/bar:pull,push`` (the name may not contain ``:``... except a
    port, so split at the first and the last colon). None when malformed."""
    rtype, sep1, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep1 or not sep2 or not name:
        return None
    rtype = rtype.split("(", 1)[0]  # "repository(plugin)" is a repository
    acts = tuple(a for a in actions.split(",") if a)
    return Access(rtype, name, acts)


# --- htpasswd -----------------------------------------------------------------------------


class Htpasswd:
    """An htpasswd file, re-read when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = -1.0
        self._users: dict[str, str] = {}
        self._cache: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise ConfigError(f"auth.htpasswd.path {self.path!r}: no such file") from None
        if st.st_mtime == self._mtime:
            return
        users: dict[str, str] = {}
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                user, sep, hashed = line.partition(":")
                if not sep or not user:
                    raise ConfigError(f"{self.path}:{n}: expected user:hash")
                users[user] = hashed
        self._users, self._mtime = users, st.st_mtime
        self._cache.clear()

    def exists(self, user: str) -> bool:
        with self._lock:
            self._load()
            return user in self._users

    def check(self, user: str, password: str) -> bool:
        with self._lock:
            self._load()
            hashed = self._users.get(user)
        if hashed is None:
            return False
        key = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).digest()
        now = time.monotonic()
        if self._cache.get(key, 0.0) > now:
            return True
        ok = _verify(password, hashed)
        if ok:
            with self._lock:
                self._cache[key] = now + _CACHE_TTL
        return ok


def _verify(password: str, hashed: str) -> bool:
    if hashed.startswith(("$2y$", "$2b$", "$2a$")):
        try:
            # $2y$ (Apache's htpasswd -B) is the same algorithm as $2b$.
            return bcrypt.checkpw(password.encode(), ("$2b$" + hashed[4:]).encode())
        except ValueError:
            return False
    if hashed.startswith("{SHA}"):
        want = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        return hmac.compare_digest(want, hashed[5:])
    return False  # plain, crypt(3) and MD5 ($apr1$) entries are not accepted


def hash_password(password: str, rounds: int = 10) -> str:
    """A bcrypt htpasswd entry's hash, as ``htpasswd -B`` writes it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode().replace("$2b$", "$2y$", 1)


# --- access rules ----------------------------------------------------------------------------


class AccessControl:
    def __init__(self, rules: tuple[AccessRule, ...] | None) -> None:
        self.rules = rules

    def allowed(self, account: str | None, rtype: str, name: str) -> frozenset[str]:
        """Actions ``account`` (None: anonymous) may take on ``rtype:name``."""
        every = frozenset(ACTIONS) if rtype == "repository" else frozenset({"*"})
        if self.rules is None:
            return every if account else frozenset()
        out: set[str] = set()
        for r in self.rules:
            if r.type != rtype or not fnmatch.fnmatchcase(name, r.name):
                continue
            # "" rules are what anyone may do, users included; "*" any user's.
            if r.account == "" or (account and r.account in ("*", account)):
                out |= r.actions
        return frozenset(out & every)

    def grants(self, account: str | None, access: Access) -> bool:
        have = self.allowed(account, access.type, access.name)
        return all(a in have for a in access.actions)


# --- tokens ---------------------------------------------------------------------------------


class TokenAuthority:
    """Issues and verifies the registry's JWTs (ES256 over a P-256 key)."""

    def __init__(self, key_path: str, issuer: str, service: str, expiration: int) -> None:
        self.issuer, self.service, self.expiration = issuer, service, expiration
        self._key = _load_or_create_key(key_path)
        pub = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha256(pub).hexdigest()[:32]

    def issue(self, account: str, granted: Iterable[Access], *, now: float | None = None,
              expires_in: int | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        ttl = self.expiration if expires_in is None else expires_in
        claims = {
            "iss": self.issuer,
            "sub": account,
            "aud": self.service,
            "iat": int(now),
            "nbf": int(now) - 1,
            "exp": int(now) + ttl,
            "jti": secrets.token_hex(16),
            "access": [
                {"type": a.type, "name": a.name, "actions": list(a.actions)} for a in granted
            ],
        }
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {"token": token, "access_token": token, "expires_in": ttl, "issued_at": issued}

    def refresh_token(self, account: str, *, now: float | None = None) -> str:
        """A long-lived token that only buys access tokens (Docker's identity token)."""
        now = time.time() if now is None else now
        claims = {"iss": self.issuer, "sub": account, "aud": self.service, "iat": int(now),
                  "exp": int(now) + REFRESH_TTL, "jti": secrets.token_hex(16), "typ": "refresh"}
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def verify_refresh(self, token: str) -> str:
        """The account a refresh token was issued to."""
        claims = self._decode(token)
        if claims.get("typ") != "refresh" or not claims.get("sub"):
            raise UnauthorizedError("authentication required: not a refresh token")
        return str(claims["sub"])

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token; ``UnauthorizedError`` saying why not."""
        claims = self._decode(token)
        if claims.get("typ") == "refresh":
            raise UnauthorizedError("authentication required: a refresh token is not an access token")
        return claims

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key.public_key(), algorithms=["ES256"], audience=self.service,
                issuer=self.issuer, options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("authentication required: token expired") from None
        except jwt.PyJWTError as e:
            raise UnauthorizedError(f"authentication required: invalid token ({e})") from None
        return claims


def _load_or_create_key(path: str) -> ec.EllipticCurvePrivateKey:
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except FileNotFoundError:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        write_bytes(path, pem, 0o600)
        return key
    except ValueError as e:
        raise ConfigError(f"auth.token.key {path!r}: not a PEM private key ({e})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"auth.token.key {path!r}: expected an EC P-256 private key")
    return key


def token_access(claims: Mapping[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for entry in claims.get("access") or []:
        if isinstance(entry, dict):
            key = (str(entry.get("type", "")), str(entry.get("name", "")))
            out.setdefault(key, set()).update(str(a) for a in entry.get("actions") or [])
    return out


# --- the gate -------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Authenticator:
    def __init__(self, config: Config) -> None:
        self.mode = config.auth_mode
        self.realm = config.realm
        self.acl = AccessControl(config.access)
        self.users = Htpasswd(config.htpasswd) if config.htpasswd else None
        self.tokens: TokenAuthority | None = None
        self.token_config = config.token
        if config.token is not None:
            key = config.token.key or os.path.join(config.root, "token-key.pem")
            self.tokens = TokenAuthority(key, config.token.issuer, config.token.service,
                                         config.token.expiration)

    def _basic(self, header: str | None) -> tuple[str, str] | None:
        if not header or not header[:6].lower() == "basic ":
            return None
        try:
            user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def authenticate_user(self, header: str | None) -> str | None:
        """The user named by valid Basic credentials; None when there are none;
        ``UnauthorizedError`` when they are wrong."""
        creds = self._basic(header)
        if creds is None:
            if header and header[:6].lower() == "basic ":
                raise UnauthorizedError("authentication required: malformed Basic credentials")
            return None
        assert self.users is not None
        if not self.users.check(*creds):
            raise UnauthorizedError("authentication required: wrong user name or password")
        return creds[0]

    def authorize(self, header: str | None, needed: list[Access], realm_url: str) -> str | None:
        """Check a request; returns the account (None: anonymous or no auth)."""
        if self.mode == "none":
            return None
        if self.mode == "htpasswd":
            return self._authorize_basic(header, needed)
        return self._authorize_token(header, needed, realm_url)

    def _authorize_basic(self, header: str | None, needed: list[Access]) -> str | None:
        challenge = {"WWW-Authenticate": f"Basic realm={_quote(self.realm)}"}
        try:
            user = self.authenticate_user(header)
        except UnauthorizedError as e:
            raise UnauthorizedError(e.message, headers=challenge) from None
        if user is None:
            if needed and all(self.acl.grants(None, a) for a in needed):
                return None
            raise UnauthorizedError("authentication required", headers=challenge)
        for a in needed:
            if not self.acl.grants(user, a):
                raise DeniedError(f"requested access to the resource is denied: {a.scope} for {user}",
                                  detail=[_detail(a)])
        return user

    def _authorize_token(self, header: str | None, needed: list[Access], realm_url: str) -> str | None:
        assert self.tokens is not None and self.token_config is not None
        realm = self.token_config.realm or realm_url
        scope = " ".join(a.scope for a in needed)

        def challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
            parts = [f"realm={_quote(realm)}", f"service={_quote(self.tokens.service)}"]  # type: ignore[union-attr]
            if scope:
                parts.append(f"scope={_quote(scope)}")
            if error:
                parts.append(f"error={_quote(error)}")
            if description:
                parts.append(f"error_description={_quote(description)}")
            return {"WWW-Authenticate": "Bearer " + ",".join(parts)}

        if not header or header[:7].lower() != "bearer ":
            raise UnauthorizedError("authentication required", headers=challenge(),
                                    detail=[_detail(a) for a in needed] or None)
        try:
            claims = self.tokens.verify(header[7:].strip())
        except UnauthorizedError as e:
            raise UnauthorizedError(e.message, headers=challenge("invalid_token", e.message)) from None
        account = str(claims.get("sub") or "") or None
        have = token_access(claims)
        for a in needed:
            granted = have.get((a.type, a.name), set())
            if "*" in granted and a.type == "repository":
                granted = set(ACTIONS)
            if all(x in granted for x in a.actions):
                continue
            if account and not self.acl.grants(account, a):
                raise DeniedError(
                    f"requested access to the resource is denied: {a.scope} for {account}",
                    detail=[_detail(a)])
            raise UnauthorizedError(
                f"authentication required: the token does not grant {a.scope}",
                headers=challenge("insufficient_scope", f"needs {a.scope}"),
                detail=[_detail(a)])
        return account

    def issue_token(self, header: str | None, scopes: list[str], service: str | None,
                    offline: bool = False) -> dict[str, Any]:
        """The built-in token endpoint, ``GET /token`` (Basic credentials optional;
        ``offline_token=true`` adds a refresh token, as ``docker login`` asks)."""
        tokens = self._token_service(service)
        try:
            account = self.authenticate_user(header)
        except UnauthorizedError as e:
            raise UnauthorizedError(e.message, headers={
                "WWW-Authenticate": f"Basic realm={_quote(self.realm)}"}) from None
        body = tokens.issue(account or "", self._grant(account, scopes))
        if offline and account:
            body["refresh_token"] = tokens.refresh_token(account)
        return body

    def oauth_token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """``POST /token``: the OAuth2 password and refresh_token grants (form fields
        ``grant_type``, ``username``/``password`` or ``refresh_token``, ``scope``,
        ``service``, ``access_type=offline``)."""
        tokens = self._token_service(form.get("service"))
        grant = form.get("grant_type", "")
        assert self.users is not None
        if grant == "password":
            account = form.get("username", "")
            if not account or not self.users.check(account, form.get("password", "")):
                raise UnauthorizedError("authentication required: wrong user name or password")
        elif grant == "refresh_token":
            account = tokens.verify_refresh(form.get("refresh_token", ""))
            if not self.users.exists(account):
                raise UnauthorizedError(f"authentication required: no user {account!r} any more")
        else:
            raise UnsupportedError(
                f"unsupported grant_type {grant!r}: expected password or refresh_token")
        scopes = form.get("scope", "").split(" ")
        body = tokens.issue(account, self._grant(account, scopes))
        body = {k: v for k, v in body.items() if k != "token"}  # OAuth2 names it access_token
        body["scope"] = " ".join(x for x in scopes if x)
        if grant == "refresh_token" or form.get("access_type") == "offline":
            body["refresh_token"] = tokens.refresh_token(account)
        return body

    def _token_service(self, service: str | None) -> TokenAuthority:
        if self.tokens is None:
            raise DeniedError("this registry does not issue tokens (auth.token is not configured)")
        if service and service != self.tokens.service:
            raise DeniedError(f"unknown service {service!r}: this registry is {self.tokens.service!r}")
        return self.tokens

    def _grant(self, account: str | None, scopes: list[str]) -> list[Access]:
        """What of the asked scopes the rules allow ``account``."""
        granted: list[Access] = []
        for raw in scopes:
            for one in raw.split(" "):
                a = parse_scope(one) if one else None
                if a is None:
                    continue  # distribution ignores scopes it cannot parse
                allowed = self.acl.allowed(account, a.type, a.name)
                wanted = set(ACTIONS) if "*" in a.actions and a.type == "repository" else set(a.actions)
                acts = tuple(sorted(x for x in wanted if x in allowed))
                if acts:
                    granted.append(Access(a.type, a.name, acts))
        return granted


def _detail(a: Access) -> dict[str, str]:
    return {"Type": a.type, "Name": a.name, "Action": ",".join(a.actions)}
