"""A container's state directory: ``<root>/<id>/``.

Layout (runc's, so tools that peek find what they expect):

- ``state.json``: the OCI state fields (ociVersion, id, status, pid, bundle,
  rootfs, created, owner, annotations) plus the runtime's own bookkeeping
  (``initProcessStart``: the init's start time in clock ticks, so a recycled
  pid is never mistaken for the container; ``cgroupsPath``; ``paused``;
  ``exitStatus`` once known). Written atomically.
- ``config.json``: the bundle's config as it was at create (``delete`` reads
  the poststop hooks from it even if the bundle is gone).
- ``exec.fifo``: exists between ``create`` and ``start``; the init blocks
  opening it for writing until ``start`` opens it for reading.

The status a reader sees is computed, not trusted from the file: a pid that
is gone, a zombie, or a different process (start time) means ``stopped``;
``exec.fifo`` present means ``created``; the paused flag means ``paused``.
This module stays light (os and ``jsonio``, not even ``json``): it is on every
CLI verb's path.
"""

from __future__ import annotations

import os
import time
from _thread import get_ident

from . import jsonio
from .errors import ContainerNotFound, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.oci.runtime import LinuxResources

    from .cgroups import CgroupManager

OCI_VERSION = "1.2.0"
STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
FIFO = "exec.fifo"
DEFAULT_ROOT = "/run/dockyard/runtime"

_ID_PUNCT = frozenset("_+-.")


def check_id(container_id: str) -> None:
    """runc's rule: letters, digits, ``_+-.``; not ``.`` or ``..``.

    (Checked without ``re``: importing it costs every CLI call ~10 ms.
    ``str.isalnum`` accepts the same Unicode letters and digits as ``\\w``.)
    """
    if (not container_id or container_id in (".", "..")
            or not all(ch.isalnum() or ch in _ID_PUNCT for ch in container_id)):
        raise InvalidArgument(f"invalid container id format: {container_id!r}")


def proc_start_time(pid: int) -> int | None:
    """Start time (field 22 of /proc/PID/stat), or None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class Container:
    """One container's directory and state; cheap to construct."""

    def __init__(self, root: str, container_id: str) -> None:
        check_id(container_id)
        self.root = root
        self.id = container_id
        self.dir = os.path.join(root, container_id)
        self.state: dict[str, Any] = {}

    # --- files ---------------------------------------------------------------

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, FIFO)

    def exists(self) -> bool:
        return os.path.isdir(self.dir)

    def load(self) -> Container:
        """Read state.json; ``ContainerNotFound`` if there is no such container."""
        try:
            with open(os.path.join(self.dir, STATE_FILE), "rb") as f:
                self.state = jsonio.loads(f.read())
        except FileNotFoundError:
            if not self.exists():
                raise ContainerNotFound(self.id) from None
            # A crash between mkdir and the first write: nothing ran yet.
            self.state = {"id": self.id, "status": "creating", "pid": 0, "bundle": ""}
        except ValueError:
            self.state = {"id": self.id, "status": "creating", "pid": 0, "bundle": ""}
        return self

    def save(self) -> None:
        write_private(os.path.join(self.dir, STATE_FILE),
                      jsonio.dumps(self.state).encode())

    def config_bytes(self) -> bytes:
        with open(os.path.join(self.dir, CONFIG_FILE), "rb") as f:
            return f.read()

    def config_json(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = jsonio.loads(self.config_bytes())
        except (OSError, ValueError):
            return {}
        return data

    # --- status --------------------------------------------------------------

    @property
    def pid(self) -> int:
        return int(self.state.get("pid") or 0)

    def init_alive(self) -> bool:
        pid = self.pid
        if pid <= 0:
            return False
        start = proc_start_time(pid)
        return start is not None and start == self.state.get("initProcessStart", start)

    def status(self) -> str:
        if not self.init_alive():
            return "stopped"
        if self.state.get("status") == "creating":
            return "creating"
        if os.path.exists(self.fifo):
            return "created"
        if self.state.get("paused"):
            return "paused"
        return "running"

    def oci_state(self) -> dict[str, Any]:
        """The state as ``runc state`` prints it (and hooks read on stdin)."""
        status = self.status()
        s = self.state
        out: dict[str, Any] = {
            "ociVersion": s.get("ociVersion", OCI_VERSION),
            "id": self.id,
            "pid": self.pid if status != "stopped" else 0,
            "status": status,
            "bundle": s.get("bundle", ""),
            "rootfs": s.get("rootfs", ""),
            "created": s.get("created", ""),
            "owner": s.get("owner", ""),
        }
        if s.get("annotations"):
            out["annotations"] = s["annotations"]
        return out


def new_cgroup(path: str, resources: LinuxResources | None) -> CgroupManager | None:
    """The cgroup manager, or None while the cgroups package lacks one.

    Here rather than in ``create``: delete, kill, pause and exec need it
    too, and importing ``create`` would make them pay for its imports.
    """
    try:
        from .cgroups import new_manager
    except ImportError:
        return None
    mgr: CgroupManager = new_manager(path, resources)
    return mgr


def write_private(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` atomically: a reader sees the old file or the new one.

    What ``linux.atomic.write_bytes(..., sync=False)`` does, without its
    ``tempfile`` import (shutil, random, ...: every CLI verb that writes
    state would pay for it) and without fsync: state lives under /run, a
    tmpfs that does not outlive a reboot anyway. The temporary name is
    unique per process and thread and opened ``O_EXCL|O_NOFOLLOW``, so
    concurrent writers never share one and a planted symlink is refused;
    it keeps atomic's ``.tmp-`` prefix (``atomic.cleanup_temps``).
    """
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".tmp-{tail}-{os.getpid()}-{get_ident()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, mode)
    except FileExistsError:  # left by a crashed process that had our pid
        os.unlink(tmp)
        fd = os.open(tmp, flags, mode)
    try:
        try:
            os.fchmod(fd, mode)  # exactly this mode, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove_dir(path: str) -> None:
    """Remove a state directory and its files; no error if it is gone.

    The directory holds only files (state.json, config.json, exec.fifo,
    temporaries); ``shutil`` (an import every ``run``/``delete`` would pay
    for) is only needed if something put a directory in it.
    """
    try:
        with os.scandir(path) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    import shutil

                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    try:
                        os.unlink(entry.path)
                    except FileNotFoundError:
                        pass
        os.rmdir(path)
    except FileNotFoundError:
        pass


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if not n.startswith(".") and os.path.isdir(os.path.join(root, n))]
