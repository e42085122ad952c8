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
This module stays light (json and os only): it is on every CLI verb's path.
"""

from __future__ import annotations

import json
import os
import re
import time

from .errors import ContainerNotFound, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.2.0"
STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
FIFO = "exec.fifo"
DEFAULT_ROOT = "/run/dockyard/runtime"

_ID = re.compile(r"^[\w+\-.]+$")


def check_id(container_id: str) -> None:
    """runc's rule: letters, digits, ``_+-.``; not ``.`` or ``..``."""
    if not container_id or not _ID.match(container_id) or container_id in (".", ".."):
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
                self.state = json.loads(f.read())
        except FileNotFoundError:
            if not self.exists():
                raise ContainerNotFound(self.id) from None
            # A crash between mkdir and the first write: nothing ran yet.
            self.state = {"id": self.id, "status": "creating", "pid": 0, "bundle": ""}
        except ValueError:
            self.state = {"id": self.id, "status": "creating", "pid": 0, "bundle": ""}
        return self

    def save(self) -> None:
        from dockyard.linux import atomic  # not at the top: `start`/`state` never write

        atomic.write_json(os.path.join(self.dir, STATE_FILE), self.state, 0o600, sync=False)

    def config_bytes(self) -> bytes:
        with open(os.path.join(self.dir, CONFIG_FILE), "rb") as f:
            return f.read()

    def config_json(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.config_bytes())
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


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if not n.startswith(".") and os.path.isdir(os.path.join(root, n))]
