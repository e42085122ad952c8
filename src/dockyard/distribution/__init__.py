"""Distribution: moving images between machines through registries.

Owns both sides of the OCI distribution spec v1.1 (and Docker's registry
API v2, its ancestor): the registry server ``dockyard registry``
(``distribution.registry``) and the client the daemon uses for
``pull``/``push``/``login`` (``distribution.client``).

- ``errors``    the spec's error codes as one exception tree (code + HTTP status)
- ``names``     repository name, tag and reference grammar
- ``registry``  the server: storage on the content store, uploads, manifests,
                referrers, GC, htpasswd and token auth, TLS
- ``client``    pull (parallel, resumable) and push (skip, cross-repo mount),
                token/basic auth, Docker's config.json and credential helpers

Entry points: ``distribution.registry.server.RegistryServer``,
``distribution.registry.config.load_config``, ``distribution.client.pull``
and ``push``. Imports from dockyard: ``content``, ``oci``, ``linux``; the
client also ``images`` (it registers what it pulls). Never ``engine``,
``api`` or anything above (the daemon imports us, not the reverse).
"""
