"""Create-only "virtual" resources: questions asked of the server, never stored.

- ``authorization.k8s.io/v1``: SelfSubjectAccessReview (``kubectl auth
  can-i``), SubjectAccessReview, LocalSubjectAccessReview,
  SelfSubjectRulesReview (``kubectl auth can-i --list``);
- ``authentication.k8s.io/v1``: SelfSubjectReview (``kubectl auth whoami``),
  TokenReview;
- ``serviceaccounts/<name>/token`` (TokenRequest, ``kubectl create token``).
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from .auth import Authenticator, UserInfo
from .authz import Attributes, RBACAuthorizer
from .errors import BadRequest, NotFound
from .resources import ResourceType
from .storage import Storage, now
from .tokens import AUDIENCES, DEFAULT_EXPIRY, TokenIssuer

Obj = dict[str, Any]


def _attributes(user: UserInfo, spec: Obj, namespace: str = "") -> Attributes:
    res = spec.get("resourceAttributes")
    if isinstance(res, dict):
        return Attributes(user, res.get("verb", ""), "", True, res.get("group", ""),
                          res.get("version", ""), res.get("resource", ""),
                          res.get("subresource", ""), namespace or res.get("namespace", ""),
                          res.get("name", ""))
    non = spec.get("nonResourceAttributes")
    if isinstance(non, dict):
        return Attributes(user, non.get("verb", ""), non.get("path", ""))
    raise BadRequest("exactly one of resourceAttributes or nonResourceAttributes must be set")


def _stamp(body: Obj, kind: str, api_version: str) -> Obj:
    out = copy.deepcopy(body)
    out["kind"], out["apiVersion"] = kind, api_version
    meta = out.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", None)
    return out


class Reviews:
    def __init__(self, authorizer: RBACAuthorizer, authenticator: Authenticator, issuer: TokenIssuer,
                 storage: Storage, table: Any) -> None:
        self.authorizer = authorizer
        self.authenticator = authenticator
        self.issuer = issuer
        self.storage = storage
        self.table = table

    async def create(self, rtype: ResourceType, namespace: str, body: Any, user: UserInfo) -> Obj:
        if not isinstance(body, dict):
            raise BadRequest(f"the body must be a {rtype.kind}")
        spec = body.get("spec") or {}
        out = _stamp(body, rtype.kind, rtype.api_version)
        if rtype.kind == "SelfSubjectAccessReview":
            out["status"] = self._decide(_attributes(user, spec))
        elif rtype.kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            subject = UserInfo(spec.get("user", ""), spec.get("uid", ""), tuple(spec.get("groups") or ()))
            out["status"] = self._decide(_attributes(subject, spec, namespace))
        elif rtype.kind == "SelfSubjectRulesReview":
            out["status"] = self._rules(user, spec.get("namespace", ""))
        elif rtype.kind == "SelfSubjectReview":
            out["status"] = {"userInfo": _user_info(user)}
        elif rtype.kind == "TokenReview":
            out["status"] = await self._token_review(spec)
        else:
            raise NotFound("the server could not find the requested resource")
        return out

    def _decide(self, a: Attributes) -> Obj:
        if self.authorizer.allowed(a):
            return {"allowed": True, "reason": "allowed by RBAC"}
        return {"allowed": False}

    def _rules(self, user: UserInfo, namespace: str) -> Obj:
        resource_rules, non_resource_rules = [], []
        for rule in self.authorizer.rules_for(user, namespace):
            if rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": rule.get("verbs") or [],
                                           "nonResourceURLs": rule["nonResourceURLs"]})
            else:
                entry = {"verbs": rule.get("verbs") or [], "apiGroups": rule.get("apiGroups") or [],
                         "resources": rule.get("resources") or []}
                if rule.get("resourceNames"):
                    entry["resourceNames"] = rule["resourceNames"]
                resource_rules.append(entry)
        return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                "incomplete": False}

    async def _token_review(self, spec: Obj) -> Obj:
        token = spec.get("token", "")
        try:
            user = await self.authenticator.authenticate(None, f"Bearer {token}")
        except Exception:
            return {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        return {"authenticated": True, "user": _user_info(user), "audiences": list(AUDIENCES)}

    async def token_request(self, rtype: ResourceType, namespace: str, name: str, body: Any) -> Obj:
        account = await self.storage.get(rtype, namespace, name)
        spec = (body or {}).get("spec") or {} if isinstance(body, dict) else {}
        expiry = int(spec.get("expirationSeconds") or DEFAULT_EXPIRY)
        if expiry < 600:
            raise BadRequest("spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes")
        token, exp = self.issuer.issue(namespace, name, account["metadata"]["uid"],
                                       spec.get("audiences") or None, expiry, spec.get("boundObjectRef"))
        stamp = datetime.datetime.fromtimestamp(exp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now()},
            "spec": {"audiences": spec.get("audiences") or list(AUDIENCES), "expirationSeconds": exp - int(
                datetime.datetime.now(datetime.UTC).timestamp()), "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token, "expirationTimestamp": stamp},
        }


def _user_info(user: UserInfo) -> Obj:
    info: Obj = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = user.extra
    return info
