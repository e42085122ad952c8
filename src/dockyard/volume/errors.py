"""The volume package's errors; each maps to one HTTP status at the API edge.

::

    VolumeError                   500  a mount, copy or driver step failed
    ├── InvalidParameter          400  bad name, bad driver option, bad mount spec:
    │   │                              names the field and the value
    │   ├── InvalidMountSpec      400  a ``-v``/``--mount`` spec (Docker's wording:
    │   │                              "invalid volume specification: '…'")
    │   └── UnsafePath            400  a subpath or bind source escaping where it
    │                                  must stay (``..``, symlinks), refused
    ├── NotFound                  404  "get NAME: no such volume" (Docker's wording)
    │   └── DriverNotFound        404  no such volume driver / plugin
    ├── Conflict                  409  volume in use (names the containers), or the
    │                                  name exists with another driver
    └── PluginError               500  a plugin answered an error or nonsense
        └── PluginTimeout         500  a plugin did not answer in time

Every error leaves the system as it found it: a failed create removes what
it made, a failed mount unmounts, a failed copy-up leaves the volume empty.
"""

from __future__ import annotations


class VolumeError(Exception):
    status = 500


class InvalidParameter(VolumeError):
    status = 400


class InvalidMountSpec(InvalidParameter):
    pass


class UnsafePath(InvalidParameter):
    pass


class NotFound(VolumeError):
    status = 404


class DriverNotFound(NotFound):
    pass


class Conflict(VolumeError):
    status = 409


class PluginError(VolumeError):
    status = 500


class PluginTimeout(PluginError):
    pass
