"""Errors of the cgroups package.

    CgroupError                   anything that went wrong with a cgroup
    ├── InvalidCgroupPathError    a ``linux.cgroupsPath`` that is malformed or escapes
    ├── InvalidResourceError      a ``linux.resources`` value out of range (nothing written)
    ├── UnsupportedResourceError  a resource this host's hierarchies cannot enforce
    └── CgroupWriteError          the kernel refused a write (names the file and the value)

The invalid-input errors are also ``ValueError`` so the runtime's CLI can map
them to the same exit code as any other bad config.json.
"""

from __future__ import annotations


class CgroupError(Exception):
    """Base of the cgroups package's errors."""


class InvalidCgroupPathError(CgroupError, ValueError):
    """``linux.cgroupsPath`` is malformed, or would leave the cgroup hierarchy."""


class InvalidResourceError(CgroupError, ValueError):
    """A ``linux.resources`` field is out of range; the message names the field."""


class UnsupportedResourceError(CgroupError):
    """The resource needs a controller this host does not offer where we need it."""


class CgroupWriteError(CgroupError):
    """Writing a cgroup file failed; the message has the file, the value and errno."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno
