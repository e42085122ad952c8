"""The pod-only subresources: ``binding`` (the scheduler's verb) and
``eviction`` (``kubectl drain``'s, guarded by PodDisruptionBudgets).

- ``POST pods/<name>/binding`` (or ``POST bindings``) with a ``Binding``
  sets ``spec.nodeName`` once; binding an already bound pod is a 409.
- ``POST pods/<name>/eviction`` with a policy/v1 ``Eviction`` deletes the
  pod unless a PodDisruptionBudget selecting it has no disruptions left
  (429 TooManyRequests, as kube-apiserver answers); an allowed eviction
  takes one from the budget's ``status.disruptionsAllowed``.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import APIError, BadRequest, Conflict, NotFound, TooManyRequests
from .resources import ResourceTable, ResourceType
from .selectors import Requirement
from .storage import Storage, WriteOptions, conflict, decode

Obj = dict[str, Any]


def _selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    if not selector:
        return False
    reqs = [Requirement(k, "=", frozenset([v])) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}.get(expr.get("operator", ""), "")
        if not op:
            return False
        reqs.append(Requirement(expr.get("key", ""), op, frozenset(expr.get("values") or [])))
    return all(r.matches(labels) for r in reqs)


class PodSubresources:
    def __init__(self, table: ResourceTable, storage: Storage) -> None:
        self.table = table
        self.storage = storage

    def _pods(self) -> ResourceType:
        rtype = self.table.lookup("", "v1", "pods")
        assert rtype is not None
        return rtype

    async def bind(self, namespace: str, name: str, body: Any, opts: WriteOptions) -> Obj:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a Binding")
        target = body.get("target") or {}
        node = target.get("name", "")
        name = name or (body.get("metadata") or {}).get("name", "")
        if not node or not name:
            raise BadRequest("Binding: target.name and metadata.name are required")
        rtype = self._pods()
        for _ in range(5):
            kv = await self.storage._get_kv(rtype, namespace, name)
            pod = decode(kv)
            current = (pod.get("spec") or {}).get("nodeName")
            if current:
                raise Conflict(f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} '
                               f"is already assigned to node \"{current}\"", name=name, kind="pods/binding")
            if pod["metadata"].get("deletionTimestamp"):
                raise Conflict(f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} '
                               "is being deleted, cannot be assigned to a host", name=name, kind="pods/binding")
            updated = copy.deepcopy(pod)
            updated.setdefault("spec", {})["nodeName"] = node
            annotations = (body.get("metadata") or {}).get("annotations")
            if annotations:
                updated["metadata"].setdefault("annotations", {}).update(annotations)
            try:
                await self.storage._write_update(rtype, kv, updated, opts)
            except Conflict:
                continue
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        raise conflict(rtype, name)

    async def evict(self, namespace: str, name: str, body: Any, opts: WriteOptions) -> Obj:
        rtype = self._pods()
        pod = await self.storage.get(rtype, namespace, name)
        labels = (pod.get("metadata") or {}).get("labels") or {}
        budgets_type = self.table.lookup("policy", "v1", "poddisruptionbudgets")
        assert budgets_type is not None
        budgets = await self.storage.list(budgets_type, namespace)
        matching = [b for b in budgets["items"] if _selector_matches((b.get("spec") or {}).get("selector"), labels)]
        phase = (pod.get("status") or {}).get("phase")
        if len(matching) > 1:
            raise APIError("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        if matching and phase not in ("Succeeded", "Failed", "Pending"):
            budget = matching[0]
            allowed = (budget.get("status") or {}).get("disruptionsAllowed", 0)
            if allowed < 1:
                raise TooManyRequests(
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    causes=[{"reason": "DisruptionBudget", "message":
                             f"The disruption budget {budget['metadata']['name']} needs "
                             f"{(budget.get('status') or {}).get('desiredHealthy', 0)} healthy pods and has "
                             f"{(budget.get('status') or {}).get('currentHealthy', 0)} currently"}])
            if not opts.dry_run:
                status = {**(budget.get("status") or {}), "disruptionsAllowed": allowed - 1}
                await self.storage.update(budgets_type, namespace, budget["metadata"]["name"],
                                          {**budget, "status": status}, WriteOptions(subresource="status"))
        options = (body or {}).get("deleteOptions") or {} if isinstance(body, dict) else {}
        try:
            await self.storage.delete(rtype, namespace, name, options, opts)
        except NotFound:
            pass
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
