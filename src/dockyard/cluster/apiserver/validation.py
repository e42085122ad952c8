"""Validation that Kubernetes does for every object, and a few per-type rules.

Names (DNS-1123 subdomain or label, or "path segment" by type), labels and
annotations, the namespace rule, and the cheap per-type checks kube-apiserver
reports as 422 Invalid with field paths (a pod needs containers with a name
and an image; a Deployment's selector must match its template…).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import cause
from .resources import BUILTINS, ResourceType

BUILTIN_GROUPS = frozenset(r.group for r in BUILTINS)

SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(f"^{SUBDOMAIN}$")
_LABEL = re.compile(f"^{LABEL}$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def name_errors(name: str, rule: str, field: str = "metadata.name") -> list[dict[str, str]]:
    if rule == "label":
        if len(name) > 63:
            return [cause(field, f'Invalid value: "{name}": must be no more than 63 characters')]
        if not _LABEL.match(name):
            return [cause(field, f'Invalid value: "{name}": a lowercase RFC 1123 label must '
                          "consist of lower case alphanumeric characters or '-', and must start "
                          "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                          f"regex used for validation is '{LABEL}')")]
        return []
    if rule == "path":
        if name in (".", "..") or "/" in name or "%" in name:
            return [cause(field, f'Invalid value: "{name}": may not be \'.\' or \'..\' and may '
                          "not contain '/' or '%'")]
        return []
    if len(name) > 253:
        return [cause(field, f'Invalid value: "{name}": must be no more than 253 characters')]
    if not _SUBDOMAIN.match(name):
        return [cause(field, f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                      "consist of lower case alphanumeric characters, '-' or '.', and must start "
                      "and end with an alphanumeric character (e.g. 'example.com', regex used "
                      f"for validation is '{SUBDOMAIN}')")]
    return []


def _qualified_name_errors(key: str, field: str) -> list[dict[str, str]]:
    prefix, _, name = key.rpartition("/")
    errs = []
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        errs.append(cause(field, f'Invalid value: "{key}": prefix part must be a DNS-1123 subdomain'))
    if not name or len(name) > 63 or not _QUALIFIED.match(name):
        errs.append(cause(field, f'Invalid value: "{key}": name part must consist of '
                          "alphanumeric characters, '-', '_' or '.', and must start and end with "
                          "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
                          "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"))
    return errs


def metadata_errors(rtype: ResourceType, obj: dict[str, Any]) -> list[dict[str, str]]:
    meta = obj.get("metadata") or {}
    errs: list[dict[str, str]] = []
    name = meta.get("name", "")
    if not name:
        errs.append(cause("metadata.name", "Required value: name or generateName is required",
                          "FieldValueRequired"))
    else:
        errs += name_errors(name, rtype.name_rule)
    for key, value in (meta.get("labels") or {}).items():
        errs += _qualified_name_errors(key, "metadata.labels")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errs.append(cause("metadata.labels", f'Invalid value: "{value}": a valid label must be '
                              "an empty string or consist of alphanumeric characters, '-', '_' or "
                              "'.', and must start and end with an alphanumeric character"))
    for key in meta.get("annotations") or {}:
        errs += _qualified_name_errors(key, "metadata.annotations")
    return errs


def _containers(spec: dict[str, Any], path: str) -> list[dict[str, str]]:
    errs = []
    containers = spec.get("containers")
    if not containers:
        errs.append(cause(f"{path}.containers", "Required value", "FieldValueRequired"))
    seen: set[str] = set()
    for i, c in enumerate(containers or []):
        p = f"{path}.containers[{i}]"
        if not c.get("name"):
            errs.append(cause(f"{p}.name", "Required value", "FieldValueRequired"))
        else:
            errs += name_errors(c["name"], "label", f"{p}.name")
            if c["name"] in seen:
                errs.append(cause(f"{p}.name", f'Duplicate value: "{c["name"]}"', "FieldValueDuplicate"))
            seen.add(c["name"])
        if not c.get("image"):
            errs.append(cause(f"{p}.image", "Required value", "FieldValueRequired"))
    return errs


def _selector_matches(spec: dict[str, Any], path: str) -> list[dict[str, str]]:
    selector = spec.get("selector")
    if not selector:
        return [cause(f"{path}.selector", "Required value", "FieldValueRequired")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return [cause(f"{path}.template.metadata.labels",
                          f"Invalid value: {labels!r}: `selector` does not match template `labels`")]
    return []


def type_errors(rtype: ResourceType, obj: dict[str, Any]) -> list[dict[str, str]]:
    """Per-type rules (built-in types only)."""
    if rtype.group == "apiextensions.k8s.io" and rtype.kind == "CustomResourceDefinition":
        return crd_errors(obj)
    if rtype.group == "" and rtype.kind == "Pod":
        return _containers(obj.get("spec") or {}, "spec")
    if rtype.group == "apps" and rtype.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        spec = obj.get("spec") or {}
        errs = _selector_matches(spec, "spec")
        errs += _containers((spec.get("template") or {}).get("spec") or {}, "spec.template.spec")
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            errs.append(cause("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
        return errs
    if rtype.group == "batch" and rtype.kind == "Job":
        spec = obj.get("spec") or {}
        tspec = (spec.get("template") or {}).get("spec") or {}
        errs = _containers(tspec, "spec.template.spec")
        if tspec.get("restartPolicy") not in ("Never", "OnFailure"):
            errs.append(cause("spec.template.spec.restartPolicy",
                              f'Unsupported value: "{tspec.get("restartPolicy")}": supported values: '
                              '"OnFailure", "Never"', "FieldValueNotSupported"))
        return errs
    if rtype.group == "" and rtype.kind == "Service":
        spec = obj.get("spec") or {}
        if spec.get("type") != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
            return [cause("spec.ports", "Required value", "FieldValueRequired")]
        errs = []
        for i, port in enumerate(spec.get("ports") or []):
            n = port.get("port")
            if not isinstance(n, int) or not 1 <= n <= 65535:
                errs.append(cause(f"spec.ports[{i}].port",
                                  f"Invalid value: {n}: must be between 1 and 65535, inclusive"))
        return errs
    if rtype.group == "" and rtype.kind == "ConfigMap":
        errs = []
        for field in ("data", "binaryData"):
            for key in obj.get(field) or {}:
                if not re.match(r"^[-._a-zA-Z0-9]+$", key) or len(key) > 253:
                    errs.append(cause(f"{field}[{key}]", f'Invalid value: "{key}": a valid config key '
                                      "must consist of alphanumeric characters, '-', '_' or '.'"))
        return errs
    return []


def crd_errors(crd: dict[str, Any]) -> list[dict[str, str]]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    errs = []
    group, plural = spec.get("group", ""), names.get("plural", "")
    if not group or "." not in group:
        errs.append(cause("spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'))
    elif group in BUILTIN_GROUPS or group.endswith((".k8s.io", ".kubernetes.io")):
        # a CRD may never shadow a built-in type (it would share its store keys)
        errs.append(cause("spec.group", f'Invalid value: "{group}": the group is reserved for '
                          "Kubernetes' own types", "FieldValueForbidden"))
    if not plural:
        errs.append(cause("spec.names.plural", "Required value", "FieldValueRequired"))
    if not names.get("kind"):
        errs.append(cause("spec.names.kind", "Required value", "FieldValueRequired"))
    name = (crd.get("metadata") or {}).get("name", "")
    if plural and group and name != f"{plural}.{group}":
        errs.append(cause("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(cause("spec.versions", "Invalid value: null: must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(cause("spec.versions", "Invalid value: must have exactly one version marked as storage version"))
    if spec.get("scope", "Namespaced") not in ("Namespaced", "Cluster"):
        errs.append(cause("spec.scope", f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"', "FieldValueNotSupported"))
    for i, v in enumerate(versions):
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errs.append(cause(f"spec.versions[{i}].schema.openAPIV3Schema", "Required value: schemas are required", "FieldValueRequired"))
        elif schema.get("type") != "object":
            errs.append(cause(f"spec.versions[{i}].schema.openAPIV3Schema.type", 'Unsupported value: must be object', "FieldValueNotSupported"))
    return errs


def _immutable(field: str) -> dict[str, str]:
    return cause(field, "Invalid value: field is immutable", "FieldValueInvalid")


def _pod_spec_without_mutable(spec: dict[str, Any]) -> dict[str, Any]:
    """A pod spec minus what an update may change (images, deadline,
    added tolerations, scheduling gates removal)."""
    out = {k: v for k, v in spec.items()
           if k not in ("activeDeadlineSeconds", "tolerations", "schedulingGates", "nodeName")}
    for field in ("containers", "initContainers"):
        out[field] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(field) or []]
    return out


def update_errors(rtype: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, str]]:
    """Fields Kubernetes refuses to change after creation."""
    if rtype.is_custom:
        return []
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if rtype.group == "" and rtype.kind == "Pod":
        if _pod_spec_without_mutable(old_spec) != _pod_spec_without_mutable(new_spec):
            return [cause("spec", "Forbidden: pod updates may not change fields other than "
                          "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                          "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to "
                          "existing tolerations), `spec.terminationGracePeriodSeconds`",
                          "FieldValueForbidden")]
        if old_spec.get("nodeName") and new_spec.get("nodeName") != old_spec.get("nodeName"):
            return [_immutable("spec.nodeName")]
    if rtype.group == "" and rtype.kind == "Service":
        old_ip = old_spec.get("clusterIP")
        if old_ip and old_ip != "None" and new_spec.get("clusterIP") not in (old_ip, None, ""):
            return [_immutable("spec.clusterIP")]
    if rtype.group in ("apps", "batch") and rtype.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
        if old_spec.get("selector") != new_spec.get("selector"):
            return [_immutable("spec.selector")]
    if rtype.group == "batch" and rtype.kind == "Job":
        if (old_spec.get("template") or {}).get("spec") != (new_spec.get("template") or {}).get("spec"):
            return [_immutable("spec.template")]
    if rtype.group == "" and rtype.kind in ("ConfigMap", "Secret") and old.get("immutable"):
        for field in ("data", "binaryData", "immutable"):
            if old.get(field) != new.get(field):
                return [cause(field, "Forbidden: field is immutable when `immutable` is set",
                              "FieldValueForbidden")]
    if rtype.group == "" and rtype.kind == "PersistentVolumeClaim":
        for field in ("accessModes", "storageClassName", "volumeMode", "selector"):
            if field in old_spec and old_spec.get(field) != new_spec.get(field):
                return [_immutable(f"spec.{field}")]
    return []
