"""The Kubernetes-compatible cluster: k3s's shape, in one package.

Sub-packages, bottom-up (``.importlinter`` enforces the order):

- ``store``        etcd's role: a revisioned key-value store with watch;
                   backends ``sqlite`` (embedded default, kine's schema) and
                   ``etcd`` (a real etcd v3 through its JSON gateway).
- ``apiserver``    kube-apiserver: discovery, REST, watch, authn, RBAC,
                   admission, OpenAPI, CRDs. Started by ``dockyard server``.
- ``scheduler``, ``controllers``  (later) kube-scheduler, kube-controller-manager.
- ``node``         (later) kubelet + kube-proxy + DNS, running pods on the engine.
"""
