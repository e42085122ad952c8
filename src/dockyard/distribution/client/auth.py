"""Registry auth as Docker's client does it: challenges, tokens, Basic.

A request without credentials is answered ``401`` with ``WWW-Authenticate``:

- ``Basic realm="…"``: send ``Authorization: Basic`` with the user's
  credentials (none known: the 401 stands);
- ``Bearer realm="…",service="…",scope="…"``: ask the realm for a token
  (``GET realm?service=…&scope=…``, Basic credentials when known, anonymous
  otherwise; with an identity token, ``POST`` the OAuth2
  ``grant_type=refresh_token`` form) and retry with ``Authorization: Bearer``.

Tokens are cached per (realm, service, scopes) until shortly before
``expires_in`` runs out, so a pull of ten layers fetches one token. A
``registrytoken`` from config.json is sent as is and never refreshed: when
the registry refuses it, the error says so.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from dockyard.distribution.errors import UnauthorizedError

from .credentials import Credentials

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_EXPIRY_MARGIN = 10.0  # seconds: do not send a token about to expire
DEFAULT_TOKEN_TTL = 60  # the spec: assume 60 s when expires_in is missing


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" | "bearer"
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(header: str) -> list[Challenge]:
    """``WWW-Authenticate`` → challenges (RFC 7235: several may be joined by commas)."""
    out: list[Challenge] = []
    for part in re.split(r"(?:^|,)\s*(?=(?:basic|bearer|digest)\s)", header, flags=re.I):
        part = part.strip().strip(",")
        if not part:
            continue
        scheme, _, rest = part.partition(" ")
        params = {k.lower(): (q.replace('\\"', '"') if q else bare)
                  for k, q, bare in _PARAM.findall(rest)}
        out.append(Challenge(scheme.lower(), params))
    return out


def identity(creds: Credentials) -> str:
    """A cache key for who holds ``creds`` (never the secret itself)."""
    raw = "\0".join((creds.username, creds.password, creds.identity_token)).encode()
    return hashlib.sha256(raw).hexdigest()


def basic_header(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class TokenCache:
    """Bearer tokens by (realm, service, who, scopes); safe to share between threads.

    ``who`` is a hash of the credentials the token was bought with: an
    anonymous token must never serve a logged-in user, nor one user's another.
    """

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, realm: str, service: str, who: str, scopes: Sequence[str]) -> str | None:
        key = (realm, service, who, tuple(sorted(scopes)))
        with self._lock:
            hit = self._tokens.get(key)
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def put(self, realm: str, service: str, who: str, scopes: Sequence[str], token: str,
            ttl: float) -> None:
        with self._lock:
            self._tokens[(realm, service, who, tuple(sorted(scopes)))] = (
                token, time.monotonic() + max(ttl - _EXPIRY_MARGIN, 1.0))


@dataclass(frozen=True)
class Token:
    token: str
    ttl: float  # seconds it lives
    refresh_token: str = ""  # with ``offline``: Docker's "identity token"


def fetch_token(http: httpx.Client, challenge: Challenge, scopes: Sequence[str],
                creds: Credentials, *, client_id: str = "dockyard", offline: bool = False) -> Token:
    """Ask the challenge's realm for a token. ``offline`` (``docker login``)
    also asks for a refresh token, which config.json keeps as
    ``identitytoken`` in place of the password."""
    realm = challenge.realm
    if not realm.startswith(("http://", "https://")):
        raise UnauthorizedError(f"the registry's token realm {realm!r} is not an http(s) URL")
    service = challenge.params.get("service", "")
    try:
        if creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "service": service, "client_id": client_id, "scope": " ".join(scopes)}
            r = http.post(realm, data=form)
        else:
            params: list[tuple[str, str | int | float | bool | None]] = [("service", service)] if service else []
            params += [("scope", s) for s in scopes]
            if offline:
                params += [("offline_token", "true"), ("client_id", client_id)]
            headers = {}
            if creds.username or creds.password:
                headers["Authorization"] = basic_header(creds)
                params.append(("account", creds.username))
            r = http.get(realm, params=params, headers=headers)
    except httpx.HTTPError as e:
        raise UnauthorizedError(f"cannot get a token from {realm}: {e}") from None
    if r.status_code in (401, 403):
        raise UnauthorizedError(
            f"{'incorrect username or password' if creds.username or creds.identity_token else 'authentication required'}"
            f" (token endpoint {realm} answered {r.status_code})")
    if r.status_code != 200:
        raise UnauthorizedError(f"token endpoint {realm} answered {r.status_code}: {r.text[:200]}")
    try:
        body = r.json()
        token = body.get("token") or body.get("access_token")
        ttl = float(body.get("expires_in") or DEFAULT_TOKEN_TTL)
        refresh = str(body.get("refresh_token") or "")
    except (ValueError, AttributeError, TypeError):
        raise UnauthorizedError(f"token endpoint {realm}: answer is not a token: {r.text[:200]!r}") from None
    if not token:
        raise UnauthorizedError(f"token endpoint {realm}: answer has no token")
    return Token(str(token), ttl, refresh)
