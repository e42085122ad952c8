"""Authentication: who is asking.

Authenticators, tried in kube-apiserver's order:

- a bearer token (``Authorization: Bearer``): the static token file
  (``--token-auth-file``, Kubernetes' CSV format ``token,user,uid[,"g1,g2"]``),
  else a bootstrap token (``<id>.<secret>``, a ``bootstrap.kubernetes.io/token``
  Secret in kube-system: user ``system:bootstrap:<id>``, group
  ``system:bootstrappers``), else a service-account JWT (``tokens.py``)
  whose account still exists;
- x509 client certificates verified against the cluster CA by the TLS
  handshake: the subject's CN is the user, each O is a group.

Impersonation (``Impersonate-User``/``-Group``/``-Uid``/``-Extra-*``, what
``kubectl --as``/``--as-group`` send) is parsed here and authorized by the
server against the ``impersonate`` verb on users/groups/serviceaccounts/uids.

Anonymous requests are refused (401) except the health endpoints, as with
``--anonymous-auth`` limited to ``/healthz``, ``/livez``, ``/readyz``.
Every authenticated user is also in ``system:authenticated``.
"""

from __future__ import annotations

import base64
import csv
import datetime
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BadRequest, Unauthorized
from .tokens import TokenIssuer, looks_like_jwt


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)


def load_token_file(path: str) -> dict[str, UserInfo]:
    """Parse a token file; ValueError naming the line on a malformed one."""
    tokens: dict[str, UserInfo] = {}
    with open(path, newline="") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or row[0].startswith("#") or not "".join(row).strip():
                continue
            if len(row) < 3 or not row[0] or not row[1]:
                raise ValueError(f"{path}:{number}: expected token,user,uid[,\"groups\"], "
                                 f"got {len(row)} field(s)")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            tokens[row[0].strip()] = UserInfo(row[1].strip(), row[2].strip(), groups)
    return tokens


def _with_authenticated(user: UserInfo) -> UserInfo:
    if "system:authenticated" in user.groups:
        return user
    return UserInfo(user.name, user.uid, (*user.groups, "system:authenticated"), user.extra)


BOOTSTRAP_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
# (namespace, kind plural, name) -> the object, or None; used to check that
# a service account token's account (or legacy Secret) still exists
Lookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]


def service_account_user(namespace: str, name: str, uid: str) -> UserInfo:
    return UserInfo(f"system:serviceaccount:{namespace}:{name}", uid,
                    ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                     "system:authenticated"))


class Authenticator:
    def __init__(self, tokens: dict[str, UserInfo] | None = None, issuer: TokenIssuer | None = None,
                 lookup: Lookup | None = None) -> None:
        self.tokens = tokens or {}
        self.issuer = issuer
        self.lookup = lookup

    async def authenticate(self, peercert: dict[str, Any] | None, authorization: str) -> UserInfo:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized("Unauthorized")
            if token in self.tokens:
                return _with_authenticated(self.tokens[token])
            if BOOTSTRAP_TOKEN.match(token):
                user = await self._bootstrap(token)
                if user is not None:
                    return user
            if looks_like_jwt(token):
                user = await self._service_account(token)
                if user is not None:
                    return user
            raise Unauthorized("Unauthorized")
        if peercert:
            cn, orgs = "", []
            for rdn in peercert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        cn = value
                    elif key == "organizationName":
                        orgs.append(value)
            if cn:
                return _with_authenticated(UserInfo(cn, "", tuple(orgs)))
        raise Unauthorized("Unauthorized")

    async def _bootstrap(self, token: str) -> UserInfo | None:
        """A bootstrap token (``abcdef.0123456789abcdef``): Secret
        ``kube-system/bootstrap-token-<id>`` of type ``bootstrap.kubernetes.io/token``."""
        if self.lookup is None:
            return None
        token_id, _, secret_part = token.partition(".")
        secret = await self.lookup("kube-system", "secrets", f"bootstrap-token-{token_id}")
        if not secret or secret.get("type") != "bootstrap.kubernetes.io/token":
            return None
        data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
        if data.get("token-id") != token_id or not hmac.compare_digest(data.get("token-secret", ""), secret_part):
            return None
        if data.get("usage-bootstrap-authentication") != "true":
            return None
        expires = data.get("expiration", "")
        if expires:
            try:
                when = datetime.datetime.fromisoformat(expires.replace("Z", "+00:00"))
            except ValueError:
                return None
            if when <= datetime.datetime.now(datetime.UTC):
                return None
        extra = tuple(g.strip() for g in data.get("auth-extra-groups", "").split(",")
                      if g.strip().startswith("system:bootstrappers:"))
        return _with_authenticated(UserInfo(f"system:bootstrap:{token_id}", "", ("system:bootstrappers", *extra)))

    async def _service_account(self, token: str) -> UserInfo | None:
        if self.issuer is None or self.lookup is None:
            return None
        claims = self.issuer.verify(token)
        if claims is None:
            return None
        account = await self.lookup(claims.namespace, "serviceaccounts", claims.name)
        if account is None or (account.get("metadata") or {}).get("uid") != claims.uid:
            return None
        if claims.legacy:
            secret = await self.lookup(claims.namespace, "secrets", claims.secret)
            stored = ((secret or {}).get("data") or {}).get("token", "")
            if not secret or base64.b64decode(stored or "").decode(errors="replace") != token:
                return None
        return service_account_user(claims.namespace, claims.name, claims.uid)


def impersonation_request(headers: Mapping[str, str], getall: Callable[[str], list[str]]) -> UserInfo | None:
    """The user named by ``Impersonate-*`` headers, or None if there are none.
    The caller checks the requester may impersonate each part."""
    user = headers.get("Impersonate-User", "")
    groups = tuple(getall("Impersonate-Group"))
    uid = headers.get("Impersonate-Uid", "")
    extra: dict[str, list[str]] = {}
    for key in headers:
        if key.lower().startswith("impersonate-extra-"):
            extra.setdefault(key[len("Impersonate-Extra-"):].lower(), []).extend(getall(key))
    if not user:
        if groups or uid or extra:
            raise BadRequest("requested impersonation of groups, uid or extra without impersonating a user")
        return None
    if user.startswith("system:serviceaccount:"):
        ns = user.split(":")[2] if user.count(":") >= 3 else ""
        groups = (*groups, "system:serviceaccounts", f"system:serviceaccounts:{ns}")
    return _with_authenticated(UserInfo(user, uid, groups, extra))
