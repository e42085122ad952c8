"""Admission: the plugins that run on a create after defaulting and
validation, before the object is stored (kube-apiserver's order, reduced).

- ``ServiceAccount``: pods of an existing account get its API credentials
  mounted (a projected token volume), unless automount is turned off.
- ``LimitRanger`` (mutating, then validating): a namespace's LimitRanges of
  type Container give containers default limits/requests and bound them
  (min/max), 403 Forbidden with Kubernetes' wording past a bound.
- ``ResourceQuota``: a namespace's quotas bound object counts (``pods``,
  ``count/configmaps``, ``services``…) and the pods' summed
  ``requests.cpu``/``requests.memory``/``limits.*``; usage is computed from
  the store at admission time. 403 ``exceeded quota``.
- ``PodSecurity`` (Pod Security Admission): the namespace labels
  ``pod-security.kubernetes.io/enforce|warn|audit`` =
  ``privileged|baseline|restricted`` check pods against the Pod Security
  Standards; ``enforce`` refuses (403), ``warn`` adds ``Warning`` headers,
  ``audit`` is accepted (there is no audit log). Workload templates get
  warnings, as PSA gives them.

Namespace lifecycle (no content in a missing or terminating namespace) is
checked by ``storage.py`` itself, as it needs no extra reads.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from dockyard.cluster.store import Store

from .errors import BadRequest, Forbidden
from .resources import ResourceType
from .storage import WriteOptions, decode

Obj = dict[str, Any]

# -- quantities --------------------------------------------------------------

_SUFFIX: dict[str, Decimal | int] = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
           "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
           "Pi": 2**50, "Ei": 2**60, "n": Decimal("1e-9"), "u": Decimal("1e-6")}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(value: Any) -> Decimal:
    """``500m`` → 0.5, ``1Gi`` → 1073741824; BadRequest for anything else."""
    m = _QUANTITY.match(str(value).strip())
    if not m or m.group(2) not in _SUFFIX:
        raise BadRequest(f'quantities must match the regular expression '
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got {value!r}")
    try:
        return Decimal(m.group(1)) * Decimal(_SUFFIX[m.group(2)])
    except InvalidOperation:
        raise BadRequest(f"bad quantity {value!r}") from None


def _containers(spec: Obj) -> list[Obj]:
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


# -- LimitRanger -------------------------------------------------------------


async def _items(store: Store, prefix: str) -> list[Obj]:
    listed = await store.list(prefix)
    return [decode(kv) for kv in listed.items]


async def limit_ranger(store: Store, name: str, namespace: str, pod: Obj) -> None:
    ranges = await _items(store, f"/registry/limitranges/{namespace}/")
    spec = pod.get("spec") or {}
    for lr in ranges:
        for limit in (lr.get("spec") or {}).get("limits") or []:
            if limit.get("type") != "Container":
                continue
            for c in _containers(spec):
                res = c.setdefault("resources", {})
                for resource, value in (limit.get("default") or {}).items():
                    res.setdefault("limits", {}).setdefault(resource, value)
                # an unset defaultRequest defaults to the default limit, as Kubernetes does
                for resource, value in {**(limit.get("default") or {}), **(limit.get("defaultRequest") or {})}.items():
                    res.setdefault("requests", {}).setdefault(resource, value)
                for resource, bound in (limit.get("max") or {}).items():
                    have = (res.get("limits") or {}).get(resource)
                    if have is None or quantity(have) > quantity(bound):
                        raise Forbidden(f'pods "{name}" is forbidden: maximum {resource} usage per '
                                        f"Container is {bound}, but limit is {have if have is not None else 'unbounded'}",
                                        name=name, kind="pods")
                for resource, bound in (limit.get("min") or {}).items():
                    have = (res.get("requests") or {}).get(resource)
                    if have is None or quantity(have) < quantity(bound):
                        raise Forbidden(f'pods "{name}" is forbidden: minimum {resource} usage per '
                                        f"Container is {bound}, but request is {have if have is not None else 0}",
                                        name=name, kind="pods")


# -- ResourceQuota -------------------------------------------------------------

_COUNTED = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
            "persistentvolumeclaims": "persistentvolumeclaims", "replicationcontrollers": "replicationcontrollers",
            "resourcequotas": "resourcequotas"}


def _pod_usage(pod: Obj) -> dict[str, Decimal]:
    usage: dict[str, Decimal] = {}
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource, value in (res.get(kind) or {}).items():
                key = f"{kind}.{resource}"
                usage[key] = usage.get(key, Decimal(0)) + quantity(value)
                if kind == "requests":
                    usage[resource] = usage.get(resource, Decimal(0)) + quantity(value)
    return usage


def _fmt(value: Decimal) -> str:
    return str(value.normalize()) if value != value.to_integral() else str(int(value))


async def resource_quota(store: Store, rtype: ResourceType, namespace: str, obj: Obj) -> None:
    quotas = await _items(store, f"/registry/resourcequotas/{namespace}/")
    if not quotas:
        return
    counted = f"count/{rtype.plural}" if not rtype.group else f"count/{rtype.plural}.{rtype.group}"
    requested: dict[str, Decimal] = {counted: Decimal(1)}
    if rtype.plural in _COUNTED and not rtype.group:
        requested[rtype.plural] = Decimal(1)
    pods: list[Obj] | None = None
    if rtype.kind == "Pod" and not rtype.group:
        requested.update(_pod_usage(obj))
    for quota in quotas:
        hard = (quota.get("spec") or {}).get("hard") or {}
        relevant = [k for k in requested if k in hard]
        if not relevant:
            continue
        used: dict[str, Decimal] = {}
        count = len(await _items(store, rtype.key_prefix(namespace)))
        for key in relevant:
            if key in (counted, rtype.plural):
                used[key] = Decimal(count)
        if rtype.kind == "Pod" and not rtype.group:
            if pods is None:
                pods = [p for p in await _items(store, f"/registry/pods/{namespace}/")
                        if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
            used["pods"] = Decimal(len(pods))
            for p in pods:
                for key, value in _pod_usage(p).items():
                    used[key] = used.get(key, Decimal(0)) + value
        over = [k for k in relevant if used.get(k, Decimal(0)) + requested[k] > quantity(hard[k])]
        if over:
            name = quota["metadata"]["name"]
            req = ",".join(f"{k}={_fmt(requested[k])}" for k in sorted(over))
            use = ",".join(f"{k}={_fmt(used.get(k, Decimal(0)))}" for k in sorted(over))
            lim = ",".join(f"{k}={hard[k]}" for k in sorted(over))
            raise Forbidden(f'{rtype.plural} "{obj["metadata"].get("name", "")}" is forbidden: '
                            f"exceeded quota: {name}, requested: {req}, used: {use}, limited: {lim}",
                            name=obj["metadata"].get("name", ""), kind=rtype.plural)


# -- PodSecurity -----------------------------------------------------------------

LEVELS = ("privileged", "baseline", "restricted")
_BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                  "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
_RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                       "persistentVolumeClaim", "projected", "secret"}
_SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                 "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                 "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                 "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                 "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}


def _names(items: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in items)


def pod_security_violations(spec: Obj, level: str) -> list[str]:
    """Kubernetes' Pod Security Standards check of one pod spec."""
    if level == "privileged":
        return []
    out: list[str] = []
    containers = _containers(spec) + list(spec.get("ephemeralContainers") or [])
    pod_sc = spec.get("securityContext") or {}
    host = [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f)]
    if host:
        out.append(f"host namespaces ({', '.join(f + '=true' for f in host)})")
    priv = [c["name"] for c in containers if (c.get("securityContext") or {}).get("privileged")]
    if priv:
        out.append(f"privileged (container{'s' if len(priv) > 1 else ''} {_names(priv)} must not set securityContext.privileged=true)")
    caps = [c["name"] for c in containers
            if set(((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []) - _BASELINE_CAPS]
    if caps:
        out.append(f"non-default capabilities (container{'s' if len(caps) > 1 else ''} {_names(caps)} must not include capabilities beyond the baseline set)")
    host_path = [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v]
    if host_path:
        out.append(f"hostPath volumes (volume{'s' if len(host_path) > 1 else ''} {_names(host_path)})")
    ports = [c["name"] for c in containers if any(p.get("hostPort") for p in c.get("ports") or [])]
    if ports:
        out.append(f"hostPort (container{'s' if len(ports) > 1 else ''} {_names(ports)} uses hostPort)")
    unconfined = [c["name"] for c in containers
                  if ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined"]
    if ((pod_sc.get("seccompProfile") or {}).get("type")) == "Unconfined" or unconfined:
        out.append('seccompProfile (pod or containers must not set securityContext.seccompProfile.type to "Unconfined")')
    proc = [c["name"] for c in containers if (c.get("securityContext") or {}).get("procMount", "Default") != "Default"]
    if proc:
        out.append(f"procMount (container{'s' if len(proc) > 1 else ''} {_names(proc)} must not set securityContext.procMount)")
    sysctls = [s.get("name", "") for s in pod_sc.get("sysctls") or [] if s.get("name") not in _SAFE_SYSCTLS]
    if sysctls:
        out.append(f"forbidden sysctls ({', '.join(sysctls)})")
    if level != "restricted":
        return out
    bad_volumes = [v["name"] for v in spec.get("volumes") or []
                   if not any(k in _RESTRICTED_VOLUMES for k in v if k != "name")]
    if bad_volumes:
        out.append(f"restricted volume types (volume{'s' if len(bad_volumes) > 1 else ''} {_names(bad_volumes)})")
    escalation = [c["name"] for c in containers if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False]
    if escalation:
        out.append(f"allowPrivilegeEscalation != false (container{'s' if len(escalation) > 1 else ''} {_names(escalation)} must set securityContext.allowPrivilegeEscalation=false)")
    drop = [c["name"] for c in containers
            if "ALL" not in ((((c.get("securityContext") or {}).get("capabilities") or {}).get("drop")) or [])
            or set((((c.get("securityContext") or {}).get("capabilities") or {}).get("add")) or []) - {"NET_BIND_SERVICE"}]
    if drop:
        out.append(f"unrestricted capabilities (container{'s' if len(drop) > 1 else ''} {_names(drop)} must set securityContext.capabilities.drop=[\"ALL\"])")
    non_root = [c["name"] for c in containers
                if (c.get("securityContext") or {}).get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True]
    if non_root:
        out.append(f"runAsNonRoot != true (pod or container{'s' if len(non_root) > 1 else ''} {_names(non_root)} must set securityContext.runAsNonRoot=true)")
    root_uid = [c["name"] for c in containers
                if (c.get("securityContext") or {}).get("runAsUser", pod_sc.get("runAsUser")) == 0]
    if root_uid:
        out.append(f"runAsUser=0 (pod or container{'s' if len(root_uid) > 1 else ''} {_names(root_uid)} must not set runAsUser=0)")
    no_seccomp = [c["name"] for c in containers
                  if ((c.get("securityContext") or {}).get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
                  not in ("RuntimeDefault", "Localhost")]
    if no_seccomp:
        out.append(f'seccompProfile (pod or container{"s" if len(no_seccomp) > 1 else ""} {_names(no_seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    return out


def _template_spec(rtype: ResourceType, obj: Obj) -> Obj | None:
    spec = obj.get("spec") or {}
    if rtype.group == "" and rtype.kind == "Pod":
        return spec
    if rtype.group == "batch" and rtype.kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if rtype.group in ("apps", "batch") and isinstance(spec.get("template"), dict):
        return (spec["template"].get("spec")) or {}
    return None


async def pod_security(store: Store, rtype: ResourceType, namespace: str, obj: Obj, opts: WriteOptions) -> None:
    spec = _template_spec(rtype, obj)
    if spec is None or not namespace:
        return
    kv = await store.get(f"/registry/namespaces/{namespace}")
    labels = ((json.loads(kv.value).get("metadata") or {}).get("labels") or {}) if kv else {}
    is_pod = rtype.kind == "Pod" and not rtype.group
    for mode in ("enforce", "warn", "audit"):
        level = labels.get(f"pod-security.kubernetes.io/{mode}", "privileged")
        if level not in LEVELS:
            level = "restricted"  # an unknown level is treated as the strictest, as PSA does
        violations = pod_security_violations(spec, level)
        if not violations:
            continue
        version = labels.get(f"pod-security.kubernetes.io/{mode}-version", "latest")
        text = f'violates PodSecurity "{level}:{version}": ' + ", ".join(violations)
        if mode == "enforce" and is_pod:
            name = obj["metadata"].get("name", "")
            raise Forbidden(f'pods "{name}" is forbidden: {text}', name=name, kind="pods")
        if mode == "warn" or (mode == "enforce" and not is_pod):
            opts.warnings.append("would " + text.replace("violates", "violate", 1))
        # "audit" goes to kube-apiserver's audit log, which dockyard does not keep


# -- ServiceAccount ------------------------------------------------------------

TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


async def service_account(store: Store, namespace: str, pod: Obj) -> None:
    """Mount the service account's API credentials into every container
    (a projected ``kube-api-access-*`` volume: token, CA, namespace), as the
    ServiceAccount admission plugin does. Kubernetes refuses a pod whose
    account does not exist yet; dockyard admits it without the volume, so
    pods work before the service-account controller has run."""
    spec = pod.setdefault("spec", {})
    name = spec.get("serviceAccountName") or "default"
    kv = await store.get(f"/registry/serviceaccounts/{namespace}/{name}")
    if kv is None or spec.get("automountServiceAccountToken") is False:
        return
    account = json.loads(kv.value)
    if account.get("automountServiceAccountToken") is False and spec.get("automountServiceAccountToken") is not True:
        return
    containers = _containers(spec)
    if any(m.get("mountPath") == TOKEN_MOUNT for c in containers for m in c.get("volumeMounts") or []):
        return
    volume = "kube-api-access-" + "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(5))
    spec.setdefault("volumes", []).append({"name": volume, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}})
    for c in containers:
        c.setdefault("volumeMounts", []).append({"name": volume, "mountPath": TOKEN_MOUNT, "readOnly": True})


class Admission:
    """The plugin chain, in kube-apiserver's order. ``escalation`` is RBAC's
    rule that nobody grants permissions they do not hold (``authz.py``)."""

    def __init__(self, escalation: Callable[[ResourceType, Obj, WriteOptions], None]) -> None:
        self.escalation = escalation

    async def __call__(self, store: Store, rtype: ResourceType, namespace: str, obj: Obj,
                       old: Obj | None, opts: WriteOptions) -> None:
        self.escalation(rtype, obj, opts)
        if old is not None:
            return
        if rtype.group == "" and rtype.kind == "Pod":
            await service_account(store, namespace, obj)
            await limit_ranger(store, obj["metadata"].get("name", ""), namespace, obj)
        await pod_security(store, rtype, namespace, obj, opts)
        if rtype.namespaced and namespace:
            await resource_quota(store, rtype, namespace, obj)
