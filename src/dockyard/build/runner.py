"""RUN: one build step as a container through the in-process runtime.

The step's root filesystem is an active overlay snapshot on its parent,
mounted on ``<work>/rootfs`` for the container's lifetime (the runtime
takes a directory, not snapshot mounts) and unmounted before the diff.
The container gets Docker's default capability set for builds (so
``chown``, ``mknod`` and ``apt`` work), the stage's env, user and workdir,
``hostname buildkitsandbox``, and for ``--network=none`` a fresh network
namespace; ``default`` and ``host`` share the host's (no per-build bridge
yet: the default network is the host's for now, as BuildKit's
``--allow network.host`` would).

``RUN --mount`` targets that did not exist are mount points the runtime
creates in the rootfs; they are removed again after the step so they
never reach the layer (secrets included: ``/run/secrets/<id>`` is an empty
file in the rootfs while the step runs, the secret itself a bind mount).
"""

from __future__ import annotations

import collections
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.runtime import Runtime
from dockyard.runtime.errors import RuntimeFailure
from dockyard.runtime.securejoin import secure_join
from dockyard.runtime.spec import default_spec_dict, write_bundle

from .errors import BuildError, CancelledError, RunError

DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
TAIL_LINES = 10


@dataclass
class RunSpec:
    args: list[str]
    env: list[str]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    network: str = "default"  # "default" | "host" | "none"
    mounts: list[dict[str, object]] = field(default_factory=list)  # OCI mounts


class Containers:
    """The containers running now (so a cancel can kill them all)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ids: set[str] = set()
        self.lock = threading.Lock()
        self.cancelled = threading.Event()

    def kill_all(self) -> None:
        self.cancelled.set()
        with self.lock:
            ids = list(self.ids)
        for cid in ids:
            try:
                self.runtime.kill(cid, 9, all=True)
            except RuntimeFailure:
                pass  # exited (or deleted) meanwhile


def run(
    containers: Containers,
    rootfs: str,
    work: str,
    spec: RunSpec,
    *,
    output: Callable[[str], None],
    name: str,
) -> None:
    """Run ``spec`` on the mounted ``rootfs``; RunError with the tail of the
    output on a non-zero exit."""
    if containers.cancelled.is_set():
        raise CancelledError("build cancelled")
    cfg = default_spec_dict(spec.args, terminal=False, rootfs=rootfs)
    proc = cfg["process"]
    proc["env"] = spec.env
    proc["cwd"] = spec.cwd
    proc["user"] = {"uid": spec.uid, "gid": spec.gid}
    proc["noNewPrivileges"] = False
    caps = list(DOCKER_CAPS)
    proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    cfg["root"] = {"path": rootfs, "readonly": False}
    cfg["hostname"] = "buildkitsandbox"
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    linux = cfg["linux"]
    namespaces = ["pid", "ipc", "uts", "mount"] + (["network"] if spec.network == "none" else [])
    linux["namespaces"] = [{"type": t} for t in namespaces]
    cid = f"build-{os.getpid()}-{uuid.uuid4().hex[:12]}"  # the pid: a crash's leftovers are found
    linux["cgroupsPath"] = f"/dockyard-build/{cid}"
    # Mount points the runtime will create for RUN --mount: remember which
    # are new, to take them out of the layer afterwards.
    created: list[str] = []
    for m in spec.mounts:
        dest = str(m["destination"])
        host = secure_join(rootfs, dest)
        if not os.path.lexists(host):
            parts = [p for p in dest.split("/") if p]
            cur = "/"
            for p in parts:
                cur = os.path.join(cur, p)
                if not os.path.lexists(secure_join(rootfs, cur)):
                    created.append(cur)
                    break
    cfg["mounts"] += spec.mounts
    write_bundle(work, cfg)

    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    r, w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDONLY)

    def pump() -> None:
        buf = b""
        with os.fdopen(r, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    text = line.decode(errors="replace")
                    tail.append(text)
                    output(text)
        if buf:
            text = buf.decode(errors="replace")
            tail.append(text)
            output(text)

    reader = threading.Thread(target=pump, name=f"output-{cid}", daemon=True)
    reader.start()
    rt = containers.runtime
    try:
        with containers.lock:
            containers.ids.add(cid)
        try:
            rt.create(cid, work, stdio=(devnull, w, w))
        except RuntimeFailure as e:
            raise BuildError(f"{name}: cannot start the step's container: {e}") from None
        finally:
            os.close(w)
            os.close(devnull)
        try:
            if containers.cancelled.is_set():
                raise CancelledError("build cancelled")
            rt.start(cid)
            code = rt.wait(cid)
        finally:
            try:
                rt.delete(cid, force=True)
            finally:
                with containers.lock:
                    containers.ids.discard(cid)
    finally:
        reader.join(timeout=10)
    for path in reversed(created):
        _remove(secure_join(rootfs, path))
    if containers.cancelled.is_set():
        raise CancelledError("build cancelled")
    if code != 0:
        raise RunError(f"process \"{' '.join(spec.args)}\" did not complete successfully ({name})",
                       code, list(tail))


def _remove(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
