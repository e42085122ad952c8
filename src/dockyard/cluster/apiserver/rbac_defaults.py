"""The default ClusterRoles and ClusterRoleBindings every cluster starts with.

Kubernetes' bootstrap policy, reduced to what dockyard serves: the
user-facing roles ``cluster-admin``, ``admin``, ``edit``, ``view`` and the
``system:`` roles that let every authenticated user discover the API and
ask what it may do. Created at start when missing (labelled
``kubernetes.io/bootstrapping=rbac-defaults``); never overwritten, so an
operator's edits survive restarts. Kubernetes builds admin/edit/view by
aggregation; here their rules are listed directly (aggregation of CRD
roles is not done).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]

_VIEWABLE: list[tuple[str, list[str]]] = [
    ("", ["pods", "pods/log", "pods/status", "services", "services/status", "endpoints",
          "configmaps", "persistentvolumeclaims", "persistentvolumeclaims/status",
          "serviceaccounts", "events", "limitranges", "resourcequotas", "resourcequotas/status",
          "namespaces", "namespaces/status", "replicationcontrollers", "bindings"]),
    ("apps", ["deployments", "deployments/scale", "deployments/status", "replicasets",
              "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale",
              "statefulsets/status", "daemonsets", "daemonsets/status", "controllerrevisions"]),
    ("batch", ["jobs", "jobs/status", "cronjobs", "cronjobs/status"]),
    ("autoscaling", ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    ("networking.k8s.io", ["ingresses", "ingresses/status", "networkpolicies"]),
    ("policy", ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    ("discovery.k8s.io", ["endpointslices"]),
    ("events.k8s.io", ["events"]),
]
_EDITABLE: list[tuple[str, list[str]]] = [
    ("", ["pods", "pods/exec", "pods/attach", "pods/portforward", "pods/eviction", "services",
          "endpoints", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts",
          "serviceaccounts/token", "replicationcontrollers", "events"]),
    ("apps", ["deployments", "deployments/scale", "replicasets", "replicasets/scale",
              "statefulsets", "statefulsets/scale", "daemonsets"]),
    ("batch", ["jobs", "cronjobs"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
    ("networking.k8s.io", ["ingresses", "networkpolicies"]),
    ("policy", ["poddisruptionbudgets"]),
    ("discovery.k8s.io", ["endpointslices"]),
    ("coordination.k8s.io", ["leases"]),
]


def _rules(table: list[tuple[str, list[str]]], verbs: list[str]) -> list[Obj]:
    return [{"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}
            for group, resources in table]


def _role(name: str, rules: list[Obj]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                     "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "rules": rules,
    }


def _binding(name: str, role: str, subjects: list[tuple[str, str]]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                     "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": who}
                     for kind, who in subjects],
    }


def cluster_roles() -> list[Obj]:
    view = _rules(_VIEWABLE, READ)
    edit = view + _rules(_EDITABLE, WRITE) + [{"apiGroups": [""], "resources": ["secrets"], "verbs": READ}]
    admin = edit + [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
         "verbs": READ + WRITE},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"],
         "verbs": ["create"]},
    ]
    return [
        _role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _role("admin", admin),
        _role("edit", edit),
        _role("view", view),
        _role("system:discovery", [{"nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
            "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        _role("system:public-info-viewer", [{"nonResourceURLs": [
            "/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        _role("system:basic-user", [
            {"apiGroups": ["authorization.k8s.io"],
             "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
        ]),
    ]


def cluster_role_bindings() -> list[Obj]:
    return [
        _binding("cluster-admin", "cluster-admin", [("Group", "system:masters")]),
        _binding("system:discovery", "system:discovery", [("Group", "system:authenticated")]),
        _binding("system:basic-user", "system:basic-user", [("Group", "system:authenticated")]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 [("Group", "system:authenticated"), ("Group", "system:unauthenticated")]),
    ]
