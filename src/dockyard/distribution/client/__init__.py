"""The registry client: pull, push, login, logout and search, in-process.

What the daemon (``POST /images/create``, ``POST /images/{name}/push``) and
the ``dockyard pull/push/login/logout/search`` commands call. It speaks the
OCI distribution spec v1.1 and Docker's registry API v2 to any registry
(``dockyard registry``, Debian's ``docker-registry``, Docker Hub).

- ``config``       ``RegistryOptions``: insecure registries (loopback always),
                   mirrors for docker.io, ``certs.d`` CA and client certs;
                   ``Endpoint`` (scheme + host + TLS) for a registry host
- ``credentials``  Docker's ``config.json`` (``auths``, ``credsStore``,
                   ``credHelpers``, ``DOCKER_CONFIG``), helpers run as Docker does
- ``auth``         ``WWW-Authenticate`` challenges, the Bearer token flow with a
                   per-scope token cache, Basic
- ``transport``    ``Repository``: one repository on one endpoint; requests with
                   auth retries and the spec's error bodies turned into
                   ``distribution.errors`` exceptions
- ``progress``     Docker's JSON progress messages through a callback
- ``resolve``      reference → manifest/index: content negotiation, 4 MiB cap,
                   digest checks; tag listing
- ``blobs``        one blob into the content store: verified, resumed with
                   ``Range`` from the ingest's offset (``pull-<digest>``)
- ``pull``         ``pull()``: resolve, platform choice, parallel blob fetches,
                   register in the ``ImageService`` only when all is there
- ``push``         ``push()``: HEAD, cross-repository mount, monolithic or
                   chunked uploads in parallel, then the manifest
- ``login``        ``login()``/``logout()``; ``search``: ``search()`` (``/v1/search``)
- ``errors``       the client's own errors, under ``distribution.errors``

Entry points: ``pull``, ``push``, ``login``, ``logout``, ``search``;
``credentials.decode_registry_auth`` for the API's ``X-Registry-Auth``.
Imports from dockyard: ``images``, ``content``, ``oci``, ``linux`` and the
server's shared ``distribution.errors``/``names``; never ``engine``, ``api``
or ``cli`` (they call us).
"""

from __future__ import annotations

from .config import RegistryOptions
from .login import login, logout
from .progress import Progress
from .pull import pull
from .push import push
from .search import search

__all__ = ["Progress", "RegistryOptions", "login", "logout", "pull", "push", "search"]
