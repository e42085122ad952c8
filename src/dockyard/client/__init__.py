"""A small client of the Docker Engine API over a unix socket.

``Client(host)`` has one method per endpoint the CLI uses, returning
decoded JSON; errors raise ``errors.APIError`` with the daemon's status
and message. One kept-alive connection per client; ``another()`` gives a
second one for a request that blocks (``wait``) while this one carries
on. Attach and exec hand back a ``Hijacked`` socket (the ``Upgrade: tcp``
connection) whose ``frames`` splits Docker's multiplexed stream (an
attach's carries its ``detach_keys``: ``detach`` parses them, reads the
docker CLI config file's ``detachKeys`` and finds them on stdin). The
transport is ``http``: HTTP/1.1 on the standard library's sockets,
because the CLI's start-up is part of every ``dockyard run`` and httpx
alone took longer to import than the run.

Host: ``-H``, else ``$DOCKER_HOST``/``$DOCKYARD_HOST``, else
``unix:///run/dockyard/dockyard.sock``. Imports nothing of dockyard but
``client`` itself (and no HTTP library: keep it that way, see ``http``);
used by ``cli``, ``compose`` and tests.
"""

from .api import DEFAULT_HOST, Client, Hijacked, resolve_host
from .errors import APIError, ConnectionFailed

__all__ = ["DEFAULT_HOST", "APIError", "Client", "ConnectionFailed", "Hijacked", "resolve_host"]
