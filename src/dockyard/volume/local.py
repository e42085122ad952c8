"""The ``local`` driver: a directory under ``<root>/volumes``, or a mount there.

Without options a volume is the plain directory ``<root>/volumes/<name>/_data``.
With options it is a mount on that directory, exactly as Docker's local
driver reads them (``docker volume create -o type=… -o device=… -o o=…``):

- ``type`` and ``device`` go together, ``o`` needs both (Docker's
  "missing required option"); any other key is an "invalid option";
  ``size`` needs a quota-capable filesystem, which we do not have, so it is
  refused as Docker refuses it without quota support;
- ``type=tmpfs,device=tmpfs,o=size=64m,mode=1777`` — a tmpfs;
- ``type=none,o=bind,device=/host/path`` — a bind mount of a host path;
- ``type=nfs,o=addr=HOST,…,device=:/export`` — Docker resolves ``addr`` to
  an IP address before calling mount(2) (the kernel's nfs client takes no
  host names); we do the same in ``mount_args``;
- any other mount(8) type (``ext4`` on ``/dev/loopN``, ``xfs``, …): ``o`` is
  split into mount flags (``ro``, ``nosuid``, ``bind``, propagation…) and
  the data string the filesystem gets, as runc and moby's ``mount.Mount`` do.

The mount happens on the first user (``mount(first=True)``) and goes away
with the last; both steps look at mountinfo first, so they are idempotent
across a daemon crash. Mount errors say what was mounted where, with any
``password=`` (cifs) masked, as Docker does.
"""

from __future__ import annotations

import errno
import os
import socket

from dockyard.linux import syscalls
from dockyard.runtime.mounts import parse_options

from . import mountinfo
from .errors import Conflict, InvalidParameter, VolumeError
from .usage import remove_tree

VALID_OPTS = ("type", "device", "o", "size")
# key -> keys it needs (Docker's mandatoryOpts)
MANDATORY_OPTS = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


def validate_opts(opts: dict[str, str]) -> None:
    for key in opts:
        if key not in VALID_OPTS:
            raise InvalidParameter(f"invalid option: {key!r} (the local driver takes "
                                   f"{', '.join(VALID_OPTS)})")
    if "size" in opts:
        raise InvalidParameter(
            f"invalid option size={opts['size']!r}: quota size requested but no quota support")
    for key, needs in MANDATORY_OPTS.items():
        if key in opts:
            for need in needs:
                if need not in opts:
                    raise InvalidParameter(f"missing required option: {need!r} (needed by {key!r})")
    if opts.get("type") == "none" and "bind" not in _split(opts.get("o", "")) \
            and "rbind" not in _split(opts.get("o", "")):
        raise InvalidParameter("type=none needs o=bind (or rbind) and device=/host/path")


def _split(o: str) -> list[str]:
    return [x for x in o.split(",") if x]


def _option_value(o: str, key: str) -> str:
    for item in _split(o):
        if item.startswith(key + "="):
            return item[len(key) + 1:]
    return ""


def resolve_nfs_addr(o: str) -> str:
    """``o`` with ``addr=HOST`` replaced by ``addr=IP`` (first occurrence), as Docker does.

    IPv4 literals are kept as they are; anything else is resolved.
    """
    addr = _option_value(o, "addr")
    if not addr:
        return o
    try:
        socket.inet_pton(socket.AF_INET, addr)
        return o
    except OSError:
        pass
    try:
        ip = socket.getaddrinfo(addr, None, proto=socket.IPPROTO_TCP)[0][4][0]
    except (socket.gaierror, UnicodeError) as e:
        raise VolumeError(
            f"error resolving passed in network volume address {addr!r}: {e}") from e
    return o.replace("addr=" + addr, "addr=" + str(ip), 1)


def mount_args(opts: dict[str, str]) -> tuple[str, str, int, list[int], str]:
    """(device, fstype, flags, propagation changes, data) for mount(2)."""
    fstype, device, o = opts["type"], opts["device"], opts.get("o", "")
    if fstype == "nfs":
        o = resolve_nfs_addr(o)
    flags, propagation, data = parse_options(_split(o))
    return device, fstype, flags, propagation, data


def _mask(text: str, o: str) -> str:
    password = _option_value(o, "password")
    return text.replace("password=" + password, "password=********") if password else text


class LocalDriver:
    """Volumes as directories (and mounts) under ``volumes_dir``."""

    name = "local"
    scope = "local"

    def __init__(self, volumes_dir: str) -> None:
        self.dir = volumes_dir

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name, "_data")

    def validate(self, opts: dict[str, str]) -> None:
        validate_opts(opts)

    def create(self, name: str, opts: dict[str, str]) -> None:
        validate_opts(opts)
        os.makedirs(os.path.join(self.dir, name), mode=0o701, exist_ok=True)
        os.makedirs(self.path(name), mode=0o755, exist_ok=True)

    def remove(self, name: str, opts: dict[str, str]) -> None:
        vdir = os.path.join(self.dir, name)
        if opts:
            self._unmount_all(self.path(name))
        left = mountinfo.under(vdir)
        if left:
            # Never rmtree through a mount: that would delete what it shows
            # (a bind-mounted host directory, a disk).
            raise Conflict(f"remove {name}: still mounted at {', '.join(left)}")
        remove_tree(vdir)

    def mount(self, name: str, opts: dict[str, str], *, first: bool, ref: str = "") -> str:
        path = self.path(name)
        if not opts:
            return path
        os.makedirs(path, mode=0o755, exist_ok=True)
        if mountinfo.count(path) > 0:
            return path  # already mounted (another user, or before a restart)
        device, fstype, flags, propagation, data = mount_args(opts)
        try:
            syscalls.mount(device, path, fstype, flags, data or None)
            if flags & syscalls.MS_BIND and flags & syscalls.MS_RDONLY:
                # A bind mount takes MS_RDONLY only through a remount.
                syscalls.mount(None, path, None, flags | syscalls.MS_REMOUNT, None)
            for p in propagation:
                syscalls.mount(None, path, None, p, None)
        except OSError as e:
            if mountinfo.count(path):
                self._unmount_all(path)
            msg = (f"failed to mount local volume: mount {device}:{path}, flags: {flags:#x}, "
                   f"data: {data}: {os.strerror(e.errno or errno.EIO)}")
            raise VolumeError(_mask(msg, opts.get("o", ""))) from None
        return path

    def unmount(self, name: str, opts: dict[str, str], *, last: bool, ref: str = "") -> None:
        if opts and last:
            self._unmount_all(self.path(name))

    def reconcile(self, name: str, opts: dict[str, str], users: int) -> None:
        """After a restart: exactly one mount when there are users, none otherwise."""
        path = self.path(name)
        if not opts:
            return
        n = mountinfo.count(path)
        if users == 0 and n:
            self._unmount_all(path)
        elif users and n > 1:
            for _ in range(n - 1):
                syscalls.umount2(path, syscalls.MNT_DETACH)
        elif users and n == 0:
            self.mount(name, opts, first=True)

    @staticmethod
    def _unmount_all(path: str) -> None:
        for _ in range(mountinfo.count(path)):
            try:
                syscalls.umount2(path, syscalls.MNT_DETACH)
            except OSError as e:
                if e.errno != errno.EINVAL:  # EINVAL: not a mount point (any more)
                    raise VolumeError(f"unmount {path}: {e.strerror}") from None
