"""The Docker Engine API (v1.24 to v1.50) on a unix socket: dockerd's REST layer.

``server.py`` builds the aiohttp application: every route answers at
``/path`` and ``/vX.Y/path``, a middleware checks the version and turns
engine errors into Docker's ``{"message": …}`` bodies with one status per
error class (``errors.py``). Routes, one module per area (``routes/``:
system, containers, exec, images, volumes), are thin: decode
(``wire.py`` types and ``params.py`` for query strings), one engine call,
encode. ``hijack.py`` takes over the connection for attach and exec (the
``Upgrade: tcp`` dance, LIBRARIES.md trap 1) and ``stream.py`` holds
Docker's multiplexed stream framing.

Entry points: ``server.make_app(engine, images, volumes)`` and
``server.serve(app, socket_paths)``. Imports ``engine`` (and the image and
volume services' error types); must never import ``client`` or ``cli``.
"""
