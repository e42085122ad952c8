"""Service-account tokens: JWTs signed with ``<data-dir>/tls/sa.key`` (ES256).

- Bound tokens (TokenRequest, ``kubectl create token``): Kubernetes' claims
  (``iss``, ``sub=system:serviceaccount:<ns>:<name>``, ``aud``, ``exp``,
  ``iat``, ``nbf``, and ``kubernetes.io: {namespace, serviceaccount{name,
  uid}}``). Valid while unexpired and while the service account with that
  uid still exists.
- Legacy tokens (Secrets of type ``kubernetes.io/service-account-token``,
  filled by the token controller with ``issue_legacy``): the old
  ``kubernetes.io/serviceaccount/*`` claims, valid while the Secret exists
  and still holds that token.

``verify`` only checks signature and claims; the API server checks the
objects still exist (``auth.py``).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
AUDIENCES = (ISSUER, "k3s")
DEFAULT_EXPIRY = 3600
MIN_EXPIRY = 600


@dataclass(frozen=True)
class TokenClaims:
    namespace: str
    name: str
    uid: str
    legacy: bool = False
    secret: str = ""


class TokenIssuer:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self.key = key
        self.public = key.public_key()

    def issue(self, namespace: str, name: str, uid: str, audiences: list[str] | None = None,
              expiration_seconds: int = DEFAULT_EXPIRY, bound: dict[str, Any] | None = None) -> tuple[str, int]:
        now = int(time.time())
        exp = now + max(expiration_seconds, MIN_EXPIRY)
        private: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if bound:
            private[bound.get("kind", "").lower() or "object"] = {"name": bound.get("name", ""), "uid": bound.get("uid", "")}
        claims = {"iss": ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}",
                  "aud": list(audiences or AUDIENCES), "exp": exp, "iat": now, "nbf": now,
                  "kubernetes.io": private}
        return jwt.encode(claims, self.key, algorithm="ES256"), exp

    def issue_legacy(self, namespace: str, name: str, uid: str, secret: str) -> str:
        claims = {"iss": LEGACY_ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}",
                  "kubernetes.io/serviceaccount/namespace": namespace,
                  "kubernetes.io/serviceaccount/secret.name": secret,
                  "kubernetes.io/serviceaccount/service-account.name": name,
                  "kubernetes.io/serviceaccount/service-account.uid": uid}
        return jwt.encode(claims, self.key, algorithm="ES256")

    def verify(self, token: str) -> TokenClaims | None:
        """The claims of a token we signed, or None (bad signature, expired…)."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256":
                return None
            unverified = jwt.decode(token, options={"verify_signature": False})
            if unverified.get("iss") == LEGACY_ISSUER:
                claims = jwt.decode(token, self.public, algorithms=["ES256"], issuer=LEGACY_ISSUER,
                                    options={"verify_aud": False, "require": ["sub"]})
                return TokenClaims(claims["kubernetes.io/serviceaccount/namespace"],
                                   claims["kubernetes.io/serviceaccount/service-account.name"],
                                   claims["kubernetes.io/serviceaccount/service-account.uid"],
                                   legacy=True, secret=claims["kubernetes.io/serviceaccount/secret.name"])
            claims = jwt.decode(token, self.public, algorithms=["ES256"], issuer=ISSUER,
                                audience=list(AUDIENCES), options={"require": ["exp", "sub"]})
            private = claims["kubernetes.io"]
            return TokenClaims(private["namespace"], private["serviceaccount"]["name"],
                               private["serviceaccount"]["uid"])
        except (jwt.PyJWTError, KeyError, TypeError):
            return None


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        base64.urlsafe_b64decode(parts[0] + "==")
    except ValueError:
        return False
    return True
