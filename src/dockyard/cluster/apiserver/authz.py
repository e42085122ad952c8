"""Authorization: RBAC, as kube-apiserver's RBAC authorizer decides.

A request becomes ``Attributes`` (user, verb, API group, resource,
subresource, namespace, name — or a non-resource path such as ``/api``).
It is allowed when the user is in ``system:masters``, or when some
ClusterRoleBinding (anywhere) or RoleBinding (in the request's namespace)
names the user, one of their groups or their service account, and the
Role/ClusterRole it refers to has a rule covering the request.

The RBAC objects are kept in memory: loaded at start, then kept current by
a store watch on the four RBAC prefixes (so a second API server on the same
etcd sees the same rules) and by this server's own writes (so a binding
just created applies to the very next request). ``rules_for`` lists a
user's rules for SelfSubjectRulesReview (``kubectl auth can-i --list``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from dockyard.cluster.store import Store, StoreError

from .auth import UserInfo
from .errors import Forbidden
from .resources import ResourceType

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
PREFIX = f"/registry/{RBAC}/"
KINDS = {"roles": "Role", "clusterroles": "ClusterRole", "rolebindings": "RoleBinding",
         "clusterrolebindings": "ClusterRoleBinding"}
READ_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
              "DELETE": "delete"}


@dataclass(frozen=True)
class Attributes:
    user: UserInfo
    verb: str
    path: str
    resource_request: bool = False
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def attributes(user: UserInfo, method: str, path: str, query: dict[str, str]) -> Attributes:
    """Kubernetes' RequestInfo: what a URL and method ask to do."""
    parts = [p for p in path.split("/") if p]
    verb = READ_VERBS.get(method, method.lower())
    if len(parts) >= 3 and parts[0] == "api" or len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        elif rest[0] == "namespaces" and len(rest) >= 2:
            namespace = rest[1]  # a namespace is in its own namespace, for RBAC
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if not name:
            if method == "GET":
                verb = "watch" if query.get("watch") in ("1", "true", "True") else "list"
            elif method == "DELETE":
                verb = "deletecollection"
        return Attributes(user, verb, path, True, group, version, resource, sub, namespace, name)
    return Attributes(user, verb, path)


def _matches(values: list[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def rule_allows(rule: Obj, a: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if not _matches(verbs, a.verb):
        return False
    if not a.resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == a.path or (url.endswith("*") and a.path.startswith(url[:-1])):
                return True
        return False
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    if not _matches(rule.get("apiGroups") or [], a.api_group):
        return False
    resources = rule.get("resources") or []
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    if not ("*" in resources or combined in resources or
            (a.subresource and f"*/{a.subresource}" in resources) or
            (not a.subresource and a.resource in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def subject_matches(subject: Obj, user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


class RBACAuthorizer:
    def __init__(self, store: Store) -> None:
        self.store = store
        # key -> (revision, object or None for a deletion)
        self._objects: dict[str, tuple[int, Obj | None]] = {}
        self._task: asyncio.Task[None] | None = None

    # -- the cache -----------------------------------------------------------

    async def start(self) -> None:
        listed = await self.store.list(PREFIX)
        for kv in listed.items:
            self._put(kv.key, kv.mod_revision, json.loads(kv.value))
        self._task = asyncio.create_task(self._follow(listed.revision + 1))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def _follow(self, start: int) -> None:
        while True:
            try:
                async for batch in self.store.watch(PREFIX, start):
                    for event in batch:
                        value = json.loads(event.kv.value) if event.type == "PUT" else None
                        self._put(event.kv.key, event.kv.mod_revision, value)
                        start = event.kv.mod_revision + 1
            except StoreError:
                await asyncio.sleep(1)
                listed = await self.store.list(PREFIX)
                for kv in listed.items:
                    self._put(kv.key, kv.mod_revision, json.loads(kv.value))
                start = listed.revision + 1

    def _put(self, key: str, revision: int, obj: Obj | None) -> None:
        current = self._objects.get(key)
        if current is None or current[0] <= revision:
            self._objects[key] = (revision, obj)

    def written(self, rtype: ResourceType, event: str, obj: Obj) -> None:
        """Storage hook: apply this server's RBAC writes at once."""
        if rtype.group != RBAC:
            return
        meta = obj.get("metadata") or {}
        key = rtype.key(meta.get("namespace", ""), meta.get("name", ""))
        revision = int(meta.get("resourceVersion") or 0)
        self._put(key, revision, None if event == "DELETED" else obj)

    def _get(self, plural: str, namespace: str, name: str) -> Obj | None:
        key = f"{PREFIX}{plural}/{namespace}/{name}" if namespace else f"{PREFIX}{plural}/{name}"
        found = self._objects.get(key)
        return found[1] if found else None

    def _all(self, plural: str, namespace: str = "") -> list[Obj]:
        prefix = f"{PREFIX}{plural}/{namespace}/" if namespace else f"{PREFIX}{plural}/"
        return [obj for key, (_, obj) in self._objects.items() if obj is not None and key.startswith(prefix)]

    # -- decisions -------------------------------------------------------------

    def _role_rules(self, ref: Obj, namespace: str) -> list[Obj]:
        if ref.get("kind") == "ClusterRole":
            role = self._get("clusterroles", "", ref.get("name", ""))
        else:
            role = self._get("roles", namespace, ref.get("name", ""))
        return list((role or {}).get("rules") or [])

    def rules_for(self, user: UserInfo, namespace: str) -> list[Obj]:
        rules: list[Obj] = []
        for binding in self._all("clusterrolebindings"):
            if any(subject_matches(s, user, "") for s in binding.get("subjects") or []):
                rules += self._role_rules(binding.get("roleRef") or {}, "")
        if namespace:
            for binding in self._all("rolebindings", namespace):
                if any(subject_matches(s, user, namespace) for s in binding.get("subjects") or []):
                    rules += self._role_rules(binding.get("roleRef") or {}, namespace)
        return rules

    def allowed(self, a: Attributes) -> bool:
        if "system:masters" in a.user.groups:
            return True
        return any(rule_allows(rule, a) for rule in self.rules_for(a.user, a.namespace))

    def _covers(self, user: UserInfo, namespace: str, rule: Obj) -> bool:
        verbs = rule.get("verbs") or []
        if rule.get("nonResourceURLs"):
            return all(self.allowed(Attributes(user, verb, url))
                       for url in rule["nonResourceURLs"] for verb in verbs)
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                plural, _, sub = resource.partition("/")
                for verb in verbs:
                    for name in rule.get("resourceNames") or [""]:
                        if not self.allowed(Attributes(user, verb, "", True, group, "", plural, sub, namespace, name)):
                            return False
        return True

    def check_escalation(self, rtype: ResourceType, obj: Obj, opts: Any) -> None:
        """RBAC's escalation rule: writing a role needs ``escalate`` on it or
        every permission it grants; writing a binding needs ``bind`` on the
        role or every permission the role grants (in that namespace)."""
        user = getattr(opts, "user", None)
        if rtype.group != RBAC or user is None or "system:masters" in user.groups:
            return
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace", "") if rtype.namespaced else "", meta.get("name", "")
        if rtype.kind in ("Role", "ClusterRole"):
            if self.allowed(Attributes(user, "escalate", "", True, RBAC, "v1", rtype.plural, "", namespace, name)):
                return
            rules = list(obj.get("rules") or [])
        else:
            ref = obj.get("roleRef") or {}
            plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            if self.allowed(Attributes(user, "bind", "", True, RBAC, "v1", plural, "", namespace, ref.get("name", ""))):
                return
            rules = self._role_rules(ref, namespace)
        missing = [r for r in rules if not self._covers(user, namespace, r)]
        if missing:
            groups = " ".join(f'"{g}"' for g in user.groups)
            listed = "\n".join(json.dumps(r, sort_keys=True) for r in missing)
            raise Forbidden(f'{rtype.plural}.{RBAC} "{name}" is forbidden: user "{user.name}" '
                            f"(groups=[{groups}]) is attempting to grant RBAC permissions not "
                            f"currently held:\n{listed}", name=name, group=RBAC, kind=rtype.plural)

    def authorize(self, a: Attributes) -> None:
        if self.allowed(a):
            return
        raise forbidden(a)


def forbidden(a: Attributes, reason: str = "") -> Forbidden:
    user = f'User "{a.user.name}"'
    if not a.resource_request:
        return Forbidden(f'forbidden: {user} cannot {a.verb} path "{a.path}"' + (f": {reason}" if reason else ""))
    what = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    subject = f'{what} "{a.name}"' if a.name else what
    where = f' in the namespace "{a.namespace}"' if a.namespace else " at the cluster scope"
    message = (f'{subject} is forbidden: {user} cannot {a.verb} resource "{what}" in API group '
               f'"{a.api_group}"{where}')
    if reason:
        message += f": {reason}"
    return Forbidden(message, name=a.name, group=a.api_group, kind=a.resource)
