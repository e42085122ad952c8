"""The registry server, ``dockyard registry``: OCI distribution spec v1.1 and
Docker's registry API v2 over HTTP(S), with storage, GC and auth.

Modules, from the wire inwards:

- ``server``          aiohttp app, dispatch, error bodies, token endpoint, TLS,
                      periodic GC; ``RegistryServer`` (start/stop)
- ``routes``          the ``/v2/`` URL grammar and the access each endpoint needs
- ``context``         what a handler gets
- ``http_blobs``      blob GET/HEAD/DELETE (Range), uploads (POST/PATCH/PUT/GET/DELETE, mount)
- ``http_manifests``  manifests (content negotiation), tags, catalog, referrers
- ``auth``            htpasswd (bcrypt, SHA), access rules, JWT bearer tokens
- ``storage``         ``Registry``: the service; links, manifests, tags over the content store
- ``uploads``         upload sessions as content ingests held by leases
- ``manifests``       what a pushed manifest must satisfy and what is kept of it
- ``gc``              online garbage collection that spares uploads in progress
- ``db``              the registry's SQLite records
- ``config``          ``--config`` YAML and flags

Entry points: ``RegistryServer(load_config(...))``, ``gc.collect``.
Imports ``content``, ``oci`` and ``linux`` only; nothing here knows of images,
the engine or the CLI.
"""
