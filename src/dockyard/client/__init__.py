"""A small client of the Docker Engine API over a unix socket (httpx).

``Client(host)`` has one method per endpoint the CLI uses, returning
decoded JSON; errors raise ``errors.APIError`` with the daemon's status
and message. Attach and exec hand back a ``Hijacked`` socket (the
``Upgrade: tcp`` connection, through httpx's ``network_stream``) and
``stream.demux`` splits Docker's multiplexed stream.

Host: ``-H``, else ``$DOCKER_HOST``/``$DOCKYARD_HOST``, else
``unix:///run/dockyard/dockyard.sock``. Imports nothing of dockyard but
``client`` itself; used by ``cli``, later ``compose`` and tests.
"""

from .api import DEFAULT_HOST, Client, Hijacked, resolve_host
from .errors import APIError, ConnectionFailed

__all__ = ["DEFAULT_HOST", "APIError", "Client", "ConnectionFailed", "Hijacked", "resolve_host"]
