"""Volumes: dockerd's volume service, the ``local`` driver, plugins, mount specs.

Owns data that outlives a container:

- ``service.py`` — ``VolumeService(root, run_root)``: create (named or
  anonymous, idempotent per name+driver), inspect (Docker's JSON),
  list with ``dangling``/``driver``/``label``/``name`` filters, remove
  (409 naming the users while in use), prune, ``df``; the users of each
  volume (``acquire``/``release``: containers referencing it;
  ``mount``/``unmount``: containers running with it) persisted so "in use"
  survives a restart; ``restore()`` after a start or a ``kill -9``;
  ``forget(cid)``/``reap(live)``: a create that failed or was cut short
  leaves no anonymous volume (each is made with its container's ref, in one
  transaction, and remembers that container).
- ``store.py`` — the records: ``<root>/volumes/metadata.db`` (SQLite, WAL);
  data in ``<root>/volumes/<name>/_data``, as Docker lays it out.
- ``local.py`` — the ``local`` driver and Docker's options (``type``,
  ``device``, ``o``: tmpfs, nfs with ``addr`` resolved, ``none``+``bind``,
  any mount(8) type); ``driver.py`` the driver contract.
- ``plugins.py`` — Docker volume plugins: discovery in ``/run/docker/plugins``
  and spec dirs, ``/Plugin.Activate``, ``/VolumeDriver.*``, timeouts.
- ``copyup.py`` — fill a new empty volume from the image (owners, modes,
  xattrs, links kept).
- ``mountspec.py`` — ``-v`` and ``--mount`` parsing into ``MountPoint``
  (``parse_volume``, ``parse_mount_flag``, ``parse_mount``,
  ``parse_volumes_from``), Docker's semantics and wording.
- ``container.py`` — the engine's calls over a container's life:
  ``prepare`` (create), ``discard`` (a create that failed after prepare),
  ``setup`` (start → OCI mounts), ``teardown`` (stop),
  ``remove`` (``rm [-v]``), ``image_volumes``, ``volumes_from``.
- ``resolve.py`` — ``MountPoint`` → OCI ``Mount`` (``to_oci_mount``), bind
  sources resolved on the host, subpaths pinned without escaping
  (``pin_subpath``/``unpin``).
- ``names.py``, ``model.py``, ``usage.py``, ``mountinfo.py``; errors in
  ``errors.py`` (each with an HTTP status).

Imports ``linux``, ``oci`` and ``runtime`` (``mounts``: option words →
mount flags; ``securejoin``) only; must never import ``engine``, ``api``, ``client``, ``cli`` or
anything above it.
"""

from . import container
from .errors import Conflict, InvalidMountSpec, InvalidParameter, NotFound, VolumeError
from .mountspec import Mount, MountPoint, parse_mount, parse_mount_flag, parse_volume
from .resolve import pin_subpath, resolve_bind_source, to_oci_mount, unpin
from .service import VolumeService

__all__ = ["Conflict", "InvalidMountSpec", "InvalidParameter", "Mount", "MountPoint",
           "NotFound", "VolumeError", "VolumeService", "container", "parse_mount",
           "parse_mount_flag", "parse_volume", "pin_subpath", "resolve_bind_source",
           "to_oci_mount", "unpin"]
