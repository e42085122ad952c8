"""dockyard: a complete container platform in Python.

Read the packages' ``__init__`` docstrings bottom-up to get the whole story
(ARCHITECTURE.md draws the same map):

- ``linux``    kernel and filesystem primitives: syscalls through ctypes,
               atomic file writes. Imports nothing of ours.
- ``oci``      OCI spec types (runtime, image, distribution). No I/O.
- ``runtime``  runc's role: an OCI bundle becomes a running container.
- ``content``, ``snapshot``, ``images``: the image side (containerd + dockerd).
- ``engine``, ``api``, ``client``, ``cli``: the Docker stack on top.
- ``cluster``  the Kubernetes-compatible control plane and node agent.

Dependencies point down only; ``.importlinter`` enforces it in ``make check``.
"""

__version__ = "0.1.0"
