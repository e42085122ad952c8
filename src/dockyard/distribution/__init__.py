"""Distribution: moving images between machines through registries.

Owns both sides of the OCI distribution spec v1.1 (and Docker's registry
API v2, its ancestor): the registry server ``dockyard registry``
(``distribution.registry``) and, later, the client the daemon uses for
``pull``/``push``/``login``.

- ``errors``    the spec's error codes as one exception tree (code + HTTP status)
- ``names``     repository name, tag and reference grammar
- ``registry``  the server: storage on the content store, uploads, manifests,
                referrers, GC, htpasswd and token auth, TLS

Entry points: ``distribution.registry.server.RegistryServer``,
``distribution.registry.config.load_config``.
Imports from dockyard: ``content``, ``oci``, ``linux``; never ``images``,
``engine``, ``api`` or anything above (the daemon imports us, not the reverse).
"""
