"""kube-apiserver's role: the Kubernetes API over the cluster store.

Entry point: ``APIServer(store, data_dir, bind_address=…, port=…)`` in
``server.py`` (``await start()``, ``.url``, ``await stop()``), started by
``dockyard server`` (``cli/server.py``); ``kubeconfig(pki, url)`` renders an
admin kubeconfig.

Modules, one concern each (a request flows top to bottom):

- ``server``      TLS, routes, authn → impersonation → RBAC middleware, bootstrap
- ``auth``        x509 client certificates, static/bootstrap/service-account tokens,
                  impersonation headers
- ``authz``       RBAC: request attributes, rule evaluation, the watched cache
- ``rbac_defaults`` cluster-admin/admin/edit/view and the system: roles
- ``tokens``      service-account JWTs (TokenRequest, legacy Secrets)
- ``reviews``     SelfSubjectAccessReview & co., TokenReview, TokenRequest
- ``handlers``    HTTP → one storage call → JSON (thin)
- ``protobuf``    kubectl's protobuf request bodies → JSON dicts
                  (field table made by ``protogen`` from Kubernetes' .proto files)
- ``discovery``   /api, /apis, APIResourceLists, aggregated discovery
- ``openapi``     /openapi/v2 and /openapi/v3 from kubernetes-validate's schemas
- ``resources``   the resource table: every served type in one place
- ``storage``     generic REST semantics over the store (CRUD, finalizers,
                  optimistic concurrency, status/scale subresources, dryRun)
- ``watch``       store events → watch events (bookmarks, 410 Gone)
- ``patch``       JSON patch, merge patch, strategic merge patch
- ``apply``       server-side apply and managedFields
- ``defaults``, ``validation``  defaulting and 422 validation of built-ins
- ``admission``   LimitRanger, ResourceQuota, Pod Security Admission
- ``pods``        the binding and eviction subresources
- ``ipalloc``     Service cluster IPs, one store key per address
- ``selectors``   label and field selectors
- ``table``       Table output (kubectl's columns)
- ``crd``         CustomResourceDefinitions → dynamically served types
- ``certs``       CA, serving and client certificates
- ``schemas``     kubernetes-validate's JSON schemas: unknown fields, patch metadata
- ``errors``      the error tree and Kubernetes ``Status`` bodies

Objects are plain dicts checked against schemas (LIBRARIES.md), so
unknown-to-us and CRD fields round-trip. Imports from dockyard:
``cluster.store`` and ``linux`` only; never controllers, scheduler or node.
"""
