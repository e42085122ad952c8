"""The engine's state: records on disk, the in-memory index, lookup (see ``service``)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from dockyard.linux import atomic

from .errors import NotFound
from .model import Container

if TYPE_CHECKING:
    from dockyard.images.service import ImageService
    from dockyard.network import NetworkService
    from dockyard.volume import VolumeService

    from .exec import ExecInstance
    from .shim import Shim, Stream
    from .zygote import Zygote

RECORD = "config.v2.json"
LOG = "container-json.log"


@dataclass
class Entry:
    """A container in memory: its record plus what only a live daemon has."""

    record: Container
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shim: Shim | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    waiters: list[asyncio.Future[int]] = field(default_factory=list)  # next exit
    removed: asyncio.Event = field(default_factory=asyncio.Event)
    execs: set[str] = field(default_factory=set)
    stopping: bool = False
    # Attach sessions made before the supervisor exists (``docker run``
    # attaches, then starts), and stdin they sent meanwhile.
    pending: set[Stream] = field(default_factory=set)
    stdin_buf: bytearray = field(default_factory=bytearray)
    stdin_eof: bool = False
    next_ch: int = 1
    health_task: asyncio.Task[None] | None = None


@dataclass
class Options:
    root: str
    run_root: str
    log_max_size: int = 10 * 1024 * 1024
    log_max_file: int = 3
    default_log_driver: str = "json-file"
    default_network: str = "bridge"  # "none" when the daemon runs with --bridge none
    seccomp: bool = True
    # Probe at a ramp before a healthcheck's first interval (engine/health.py).
    health_start_probes: bool = True


class EngineBase:
    """The engine's state and the helpers every verb module uses; the verbs are
    mixed in by ``service.Engine``."""

    def __init__(self, opts: Options, images: ImageService, zygote: Zygote,
                 volumes: VolumeService | None = None,
                 networks: NetworkService | None = None) -> None:
        from dockyard.runtime.api import Runtime

        self.opts = opts
        self.images = images
        self.volumes = volumes
        self.networks = networks
        self.zygote = zygote
        self.runtime = Runtime(os.path.join(opts.run_root, "runtime"))
        self.containers: dict[str, Entry] = {}
        self.names: dict[str, str] = {}  # name (no slash) -> id
        self.exec_instances: dict[str, ExecInstance] = {}
        # Exit codes of containers removed in the last minutes: a `wait
        # ?condition=removed` that arrives after an auto-remove still answers.
        self.tombstones: dict[str, tuple[float, int]] = {}
        self.started_at = time.time()
        for d in (self.containers_dir, os.path.join(opts.run_root, "c"), self.runtime.root):
            os.makedirs(d, exist_ok=True)
        from .events import EventBus

        self.events = EventBus()
        self.daemon_id = self._daemon_id()
        self.closing = False

    def event(self, action: str, rec: Container, **extra: str) -> None:
        self.events.emit(action, rec.Id, rec.Name, rec.Config.Image, rec.Config.Labels, **extra)

    def _daemon_id(self) -> str:
        import uuid

        path = os.path.join(self.opts.root, "engine-id")
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            did = str(uuid.uuid4())
            atomic.write_bytes(path, did.encode())
            return did

    # --- paths -----------------------------------------------------------------

    @property
    def containers_dir(self) -> str:
        return os.path.join(self.opts.root, "containers")

    def container_dir(self, cid: str) -> str:
        return os.path.join(self.containers_dir, cid)

    def run_dir(self, cid: str) -> str:
        # Short on purpose: unix socket paths in it must stay under 107 bytes.
        return os.path.join(self.opts.run_root, "c", cid[:12])

    # --- records ---------------------------------------------------------------

    def save(self, c: Container) -> None:
        atomic.write_bytes(os.path.join(self.container_dir(c.Id), RECORD),
                           msgspec.json.encode(c), 0o600)

    async def load(self) -> None:
        """Read every record, then reconnect or settle the running ones."""
        for cid in sorted(os.listdir(self.containers_dir)):
            path = os.path.join(self.container_dir(cid), RECORD)
            try:
                with open(path, "rb") as f:
                    rec = msgspec.json.decode(f.read(), type=Container)
            except (OSError, msgspec.DecodeError):
                # A create that died before its record was written: half-made,
                # so it never existed (the snapshot is found by its key).
                await asyncio.to_thread(self._discard_half_made, cid)
                continue
            self.containers[rec.Id] = Entry(rec)
            self.names[rec.Name.lstrip("/")] = rec.Id
        await asyncio.to_thread(self._reconcile)
        for e in list(self.containers.values()):
            if e.record.State.Running:
                await self._restore(e)
            else:
                e.exited.set()
        for e in list(self.containers.values()):
            if not e.record.State.Running:
                await self._start_on_boot(e)

    def _reconcile(self) -> None:
        """Bring what a ``kill -9`` between two steps of a create, start or
        remove left in line with the records, which are the truth.

        - runtime state of a container whose record does not say running (or
          that has no record): a start cut short after the supervisor made,
          maybe started, the container but before the record said so. The
          start was never answered, so it did not happen: killed and deleted,
          and what the start set up around it undone (``_undo_start``);
        - a stopped container's rootfs still mounted (cut short earlier): unmounted;
        - run dirs and active snapshots (``dockyard/container`` label, keyed by
          the id) that no record owns: a create or remove cut short. Removed;
        - volume users that are no container (refs a create cut short took):
          released, and the anonymous volumes made for them removed
          (``VolumeService.reap``; named volumes and ``volume create``'s stay).
        """
        import shutil

        from dockyard.snapshot import Kind, unmount_all
        from dockyard.snapshot import errors as snap_errors
        from dockyard.snapshot.mount import is_mountpoint

        try:
            states = self.runtime.list()
        except Exception:  # an unreadable state: the runtime's to judge, not a reason not to start
            states = []
        for st in states:
            e = self.containers.get(st.id)
            if e is not None and e.record.State.Running:
                continue
            try:
                self.runtime.delete(st.id, force=True)
            except Exception:
                pass
        for e in self.containers.values():
            if not e.record.State.Running:
                self._undo_start(e.record)
        shorts = {cid[:12] for cid in self.containers}
        run_c = os.path.join(self.opts.run_root, "c")
        for short in os.listdir(run_c):
            if short in shorts:
                continue
            rootfs = os.path.join(run_c, short, "rootfs")
            if os.path.isdir(rootfs) and is_mountpoint(rootfs):
                unmount_all(rootfs)
            shutil.rmtree(os.path.join(run_c, short), ignore_errors=True)
        if self.volumes is not None:
            self._reap_volumes()
        sn = self.images.snapshotter
        for info in sn.walk(kind=Kind.ACTIVE):
            owner = info.labels.get("dockyard/container")
            if owner and info.name == owner and owner not in self.containers:
                try:
                    sn.remove(info.name)
                except snap_errors.SnapshotError:
                    pass

    def _reap_volumes(self) -> None:
        import logging

        assert self.volumes is not None
        live = {cid: [m.Name for m in e.record.MountPoints or [] if m.Type == "volume" and m.Name]
                for cid, e in self.containers.items()}
        try:
            gone = self.volumes.reap(live)
        except Exception:  # a plugin that does not answer: not a reason not to start
            logging.getLogger(__name__).exception("volume clean-up at start")
            return
        if gone:
            logging.getLogger(__name__).info("removed %d anonymous volume(s) of creates cut "
                                             "short: %s", len(gone), ", ".join(gone))

    def _undo_start(self, rec: Container) -> None:
        """What a start set up around the container: network, volumes, rootfs."""
        from dockyard.snapshot import unmount_all
        from dockyard.snapshot.mount import is_mountpoint

        try:
            self._net_teardown(rec)
        except Exception:  # best effort: each step undoes what it finds
            pass
        try:
            self._volumes_down(rec)
        except Exception:
            pass
        rootfs = os.path.join(self.run_dir(rec.Id), "rootfs")
        if os.path.isdir(rootfs) and is_mountpoint(rootfs):
            unmount_all(rootfs)

    def _volumes_down(self, rec: Container) -> None:
        if rec.MountPoints and self.volumes is not None:
            from dockyard.volume.container import teardown

            teardown(self.volumes, rec.Id)

    def _discard_half_made(self, cid: str) -> None:
        import shutil

        from dockyard.snapshot import errors as snap_errors

        try:
            self.images.snapshotter.remove(cid)
        except snap_errors.SnapshotError:
            pass
        shutil.rmtree(self.container_dir(cid), ignore_errors=True)

    # --- lookup ----------------------------------------------------------------

    def get(self, ref: str) -> Entry:
        """By full id, name, or unique id prefix (Docker's order)."""
        e = self.containers.get(ref)
        if e is not None:
            return e
        cid = self.names.get(ref.lstrip("/"))
        if cid is not None:
            return self.containers[cid]
        if ref:
            hits = [c for c in self.containers if c.startswith(ref)]
            if len(hits) == 1:
                return self.containers[hits[0]]
            if len(hits) > 1:
                from .errors import InvalidParameter

                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def pid_of(self, ref: str) -> int:
        e = self.get(ref)
        if not e.record.State.Running:
            from .errors import Conflict

            raise Conflict(f"cannot join namespace of a non running container {ref}")
        return e.record.State.Pid

    def image_users(self, image_id: str) -> list[str]:
        return [c for c, e in self.containers.items() if e.record.Image == image_id]

    async def close(self) -> None:
        """Let go of the supervisors; the containers keep running (live restore)."""
        self.closing = True
        for e in self.containers.values():
            if e.shim is not None:
                e.shim.close()

    def info_counts(self) -> dict[str, int]:
        running = sum(1 for e in self.containers.values()
                      if e.record.State.Running and not e.record.State.Paused)
        paused = sum(1 for e in self.containers.values() if e.record.State.Paused)
        total = len(self.containers)
        return {"Containers": total, "ContainersRunning": running, "ContainersPaused": paused,
                "ContainersStopped": total - running - paused}

    @property
    def init_cache(self) -> str:
        """Where ``--init``'s binary is built (``bundle.init_command``)."""
        return os.path.join(self.opts.root, "init")

    def log_path(self, cid: str) -> str:
        return os.path.join(self.container_dir(cid), LOG)

    # Implemented by the verb modules (mixins of service.Engine).
    async def _restore(self, e: Entry) -> None:
        raise NotImplementedError

    async def _settle(self, e: Entry, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _drop(self, e: Entry, anonymous_volumes: bool = False) -> None:
        raise NotImplementedError

    async def _start_on_boot(self, e: Entry) -> None:
        raise NotImplementedError

    def _health_start(self, e: Entry) -> None:
        raise NotImplementedError

    def _net_setup(self, rec: Container, pid: int) -> None:
        raise NotImplementedError

    def _net_teardown(self, rec: Container) -> None:
        raise NotImplementedError

    def _net_check(self, mode: str) -> None:
        raise NotImplementedError

    def _host_gateway(self, hc: Any) -> str:
        raise NotImplementedError

    def network_settings(self, rec: Container) -> dict[str, Any]:
        raise NotImplementedError

    def ports_summary(self, rec: Container) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _health_stop(self, e: Entry) -> None:
        raise NotImplementedError

    def _exec_process(self, e: Entry, inst: ExecInstance) -> dict[str, Any]:
        raise NotImplementedError

    async def _kill_and_wait(self, e: Entry) -> None:
        raise NotImplementedError
