"""The resource table: every type the API server serves, in one place.

Each row says what kube-apiserver's discovery says about a resource (group,
version, kind, plural, singular, short names, scope, verbs, subresources,
categories) plus what the generic storage needs (how names are validated,
which field selectors work, the schema definition for validation and
OpenAPI). ``ResourceTable`` starts with the built-in rows and gains and
loses rows as CustomResourceDefinitions come and go (``crd.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# subresources answered with another kind: name -> (group, version, kind, verbs)
SUBRESOURCE_KINDS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
    "binding": ("", "v1", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "finalize": ("", "v1", "Namespace", ("update",)),
}
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale"
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # "subdomain" (DNS-1123 subdomain, most types), "label" (DNS-1123 label:
    # namespaces, services), "path" (anything without / and % and not . or ..:
    # RBAC objects).
    name_rule: str = "subdomain"
    # field selectors beyond metadata.name/metadata.namespace: selector -> path
    field_selectors: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # OpenAPI definition name (built-ins) or the CRD's openAPIV3Schema
    definition: str = ""
    crd_schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    # CRDs' additionalPrinterColumns (name, type, jsonPath, priority) for Tables
    printer_columns: tuple[tuple[str, str, str, int], ...] = field(default=(), compare=False)
    # create-only questions to the server (access reviews…): never stored
    virtual: bool = False
    # the scale subresource: spec replicas, status replicas, selector (string) paths
    scale_paths: tuple[str, str, str] = (".spec.replicas", ".status.replicas", "")

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def is_custom(self) -> bool:
        return self.crd_schema is not None

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def key_prefix(self, namespace: str = "") -> str:
        """The store prefix: kube-apiserver's etcd layout (``/registry/pods/``;
        non-core groups as ``/registry/<group>/<plural>/``)."""
        base = f"/registry/{self.plural}/" if not self.group else f"/registry/{self.group}/{self.plural}/"
        if self.namespaced and namespace:
            return f"{base}{namespace}/"
        return base

    def key(self, namespace: str, name: str) -> str:
        return self.key_prefix(namespace) + name


def _defn(group: str, version: str, kind: str) -> str:
    package = {
        "": "core",
        "apps": "apps",
        "batch": "batch",
        "networking.k8s.io": "networking",
        "policy": "policy",
        "rbac.authorization.k8s.io": "rbac",
        "storage.k8s.io": "storage",
        "coordination.k8s.io": "coordination",
        "discovery.k8s.io": "discovery",
        "autoscaling": "autoscaling",
        "authorization.k8s.io": "authorization",
        "authentication.k8s.io": "authentication",
    }
    if group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}"
    return f"io.k8s.api.{package[group]}.{version}.{kind}"


def _r(group: str, version: str, kind: str, plural: str, **kw: Any) -> ResourceType:
    return ResourceType(group, version, kind, plural, definition=_defn(group, version, kind), **kw)


ST = ("status",)
CREATE = ("create",)
SCALE = ("status", "scale")
ALL = ("all",)
LABEL = "label"
PATH = "path"

BUILTINS: tuple[ResourceType, ...] = (
    # core/v1
    _r("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
       subresources=("status", "finalize"), verbs=NO_COLLECTION_DELETE, name_rule=LABEL,
       field_selectors=(("status.phase", ("status", "phase")),)),
    _r("", "v1", "Pod", "pods", short_names=("po",), subresources=("status", "binding", "eviction"),
       categories=ALL,
       field_selectors=(("spec.nodeName", ("spec", "nodeName")),
                        ("spec.restartPolicy", ("spec", "restartPolicy")),
                        ("spec.schedulerName", ("spec", "schedulerName")),
                        ("spec.serviceAccountName", ("spec", "serviceAccountName")),
                        ("status.phase", ("status", "phase")),
                        ("status.podIP", ("status", "podIP")),
                        ("status.nominatedNodeName", ("status", "nominatedNodeName")))),
    _r("", "v1", "Binding", "bindings", verbs=CREATE, virtual=True),
    _r("", "v1", "Service", "services", short_names=("svc",), subresources=ST,
       categories=ALL, verbs=NO_COLLECTION_DELETE, name_rule=LABEL),
    _r("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    _r("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _r("", "v1", "Secret", "secrets", field_selectors=(("type", ("type",)),)),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",)),
    _r("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=ST,
       field_selectors=(("spec.unschedulable", ("spec", "unschedulable")),)),
    _r("", "v1", "Event", "events", short_names=("ev",), name_rule=PATH,
       field_selectors=(("involvedObject.kind", ("involvedObject", "kind")),
                        ("involvedObject.name", ("involvedObject", "name")),
                        ("involvedObject.namespace", ("involvedObject", "namespace")),
                        ("involvedObject.uid", ("involvedObject", "uid")),
                        ("reason", ("reason",)), ("type", ("type",)))),
    _r("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False,
       short_names=("pv",), subresources=ST),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
       subresources=ST),
    _r("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=ST),
    _r("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    # apps/v1
    _r("apps", "v1", "Deployment", "deployments", short_names=("deploy",), subresources=SCALE,
       categories=ALL),
    _r("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), subresources=SCALE,
       categories=ALL),
    _r("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), subresources=SCALE,
       categories=ALL),
    _r("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), subresources=ST,
       categories=ALL),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    # batch/v1
    _r("batch", "v1", "Job", "jobs", subresources=ST, categories=ALL),
    _r("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), subresources=ST,
       categories=ALL),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",),
       subresources=ST),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    # policy/v1
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
       subresources=ST),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles", name_rule=PATH),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False,
       name_rule=PATH),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", name_rule=PATH),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
       namespaced=False, name_rule=PATH),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False,
       short_names=("sc",)),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # apiextensions.k8s.io/v1
    _r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
       namespaced=False, short_names=("crd", "crds"), subresources=ST),
    # autoscaling/v2
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
       short_names=("hpa",), subresources=ST, categories=ALL),
    # authorization.k8s.io/v1 and authentication.k8s.io/v1: create-only reviews
    _r("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
       namespaced=False, verbs=CREATE, virtual=True),
    _r("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
       namespaced=False, verbs=CREATE, virtual=True),
    _r("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
       namespaced=False, verbs=CREATE, virtual=True),
    _r("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
       verbs=CREATE, virtual=True),
    _r("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews",
       namespaced=False, verbs=CREATE, virtual=True),
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews",
       namespaced=False, verbs=CREATE, virtual=True),
)

# Groups in the order kube-apiserver lists them (core first).
GROUP_ORDER = (
    "", "apps", "batch", "autoscaling", "networking.k8s.io", "policy",
    "rbac.authorization.k8s.io", "storage.k8s.io", "coordination.k8s.io",
    "discovery.k8s.io", "apiextensions.k8s.io", "authorization.k8s.io",
    "authentication.k8s.io",
)


class ResourceTable:
    """Lookup of served resources by path and by kind; CRDs add rows."""

    def __init__(self, rows: Iterable[ResourceType] = BUILTINS) -> None:
        self._rows: dict[tuple[str, str, str], ResourceType] = {}
        for row in rows:
            self.add(row)

    def add(self, row: ResourceType) -> None:
        self._rows[(row.group, row.version, row.plural)] = row

    def remove(self, group: str, plural: str) -> None:
        for key in [k for k in self._rows if k[0] == group and k[2] == plural]:
            del self._rows[key]

    def rows(self) -> list[ResourceType]:
        return list(self._rows.values())

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._rows.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        for row in self._rows.values():
            if row.group == group and row.version == version and row.kind == kind:
                return row
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions served (core is ``""``), groups in kube's order."""
        found: dict[str, list[str]] = {}
        for row in self._rows.values():
            versions = found.setdefault(row.group, [])
            if row.version not in versions:
                versions.append(row.version)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (r for r in self._rows.values() if r.group == group and r.version == version),
            key=lambda r: r.plural,
        )
