"""``create``: a container record and its writable snapshot, all or nothing.

Order matters for crash safety: the container's directory is made first,
then the snapshot (keyed by the container id), then its volumes (each
anonymous one created together with the container's ref on it, in one
transaction), and the record is written last, atomically. A crash before
the record leaves a directory without ``config.v2.json``, which the next
``Engine.load`` removes along with the snapshot of the same key (and
``EngineBase._reconcile`` any snapshot or run dir no record owns, and the
refs of ids with no record with the anonymous volumes made for them); so
after any crash a container is either fully present or absent, and none of
its anonymous volumes outlives a create that did not finish. A create that
fails removes them itself (``_discard_volumes``); named volumes it made
stay, as Docker keeps them. Removal is the mirror image: the record goes
first.

Names: the index (``names``) is rebuilt from the records at load, so a
reservation never outlives a crash. A name is checked, then reserved, with
no ``await`` in between: of concurrent creates of one name, one wins and
the others get Docker's 409.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from typing import TYPE_CHECKING, Any

from . import names
from .base import EngineBase
from .errors import Conflict, InvalidParameter, NotFound
from .logfile import parse_size
from .model import Container, ContainerConfig, HostConfig

if TYPE_CHECKING:
    from .base import Entry

LOG_DRIVERS = ("json-file", "local", "none")
LOG_OPTS = {"json-file": ("max-size", "max-file", "compress", "labels", "labels-regex", "env",
                          "env-regex", "tag"),
            "local": ("max-size", "max-file", "compress"), "none": ()}
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
MIN_MEMORY = 6 * 1024 * 1024


def now() -> str:
    import time

    from .logfile import rfc3339nano

    return rfc3339nano(time.time_ns())


def validate_host_config(hc: HostConfig) -> None:
    """Docker's checks, with Docker's wording where it has one."""
    lc = hc.LogConfig
    if lc.Type and lc.Type not in LOG_DRIVERS:
        raise InvalidParameter(f'failed to create container: logging driver "{lc.Type}" '
                               f"is not supported (expected one of: {', '.join(LOG_DRIVERS)})")
    driver = lc.Type or "json-file"
    for k, v in (lc.Config or {}).items():
        if k not in LOG_OPTS.get(driver, ()):
            raise InvalidParameter(f"unknown log opt '{k}' for {driver} log driver")
        if k == "max-size":
            try:
                parse_size(v)
            except ValueError as e:
                raise InvalidParameter(str(e)) from None
        elif k == "max-file":
            if not v.isdigit() or int(v) < 1:
                raise InvalidParameter(f"invalid max-file {v!r}: expected a number >= 1")
        elif k == "compress" and v not in ("true", "false"):
            raise InvalidParameter(f"invalid compress {v!r}: expected true or false")
    rp = hc.RestartPolicy
    if rp.Name not in RESTART_POLICIES:
        raise InvalidParameter(f"invalid restart policy: unknown policy '{rp.Name}'; use one of "
                               "'no', 'always', 'on-failure', or 'unless-stopped'")
    if rp.MaximumRetryCount and rp.Name != "on-failure":
        raise InvalidParameter("invalid restart policy: maximum retry count can only be used "
                               "with 'on-failure'")
    if rp.MaximumRetryCount < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if hc.AutoRemove and rp.Name not in ("", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    if hc.Memory < 0 or 0 < hc.Memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if hc.MemorySwap and hc.MemorySwap != -1 and hc.Memory and hc.MemorySwap < hc.Memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, "
                               "see usage")
    if hc.NanoCpus < 0 or hc.NanoCpus > (os.cpu_count() or 1) * 1_000_000_000:
        raise InvalidParameter(f"range of CPUs is from 0.01 to {os.cpu_count()}.00, "
                               "as there are only "
                               f"{os.cpu_count()} CPUs available")
    if hc.CpuShares < 0:
        raise InvalidParameter(f"invalid CPU shares {hc.CpuShares}: expected >= 0")
    if hc.ShmSize < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    if hc.OomScoreAdj < -1000 or hc.OomScoreAdj > 1000:
        raise InvalidParameter(f"Invalid value {hc.OomScoreAdj}, range for oom score adj is "
                               "[-1000, 1000]")


class CreateMixin(EngineBase):
    async def create(self, config: ContainerConfig, host: HostConfig,
                     name: str | None = None, *, aliases: list[str] | None = None
                     ) -> tuple[str, list[str]]:
        """``POST /containers/create``: (id, warnings). ``aliases``: the
        ``--network-alias`` names of NetworkingConfig."""
        from dockyard.images.errors import ImageError, ImageNotFoundError, InvalidReferenceError

        from .bundle import capabilities

        if name:
            name = names.validate(name)
            self._check_name_free(name)
        if not config.Image:
            raise InvalidParameter("config.Image: an image is required")
        validate_host_config(host)
        if host.Init:  # builds our init on first use; refused if nothing can serve
            from .bundle import init_command

            await asyncio.to_thread(init_command, self.init_cache)
        self._net_check(host.NetworkMode)
        capabilities(Container(Id="x", Created="", Path="", Args=[], Image="", Name="",
                               Config=config, HostConfig=host))  # checks cap names
        try:
            image = await asyncio.to_thread(self.images.get, config.Image)
        except InvalidReferenceError as e:
            raise InvalidParameter(str(e)) from None
        except ImageNotFoundError:
            raise NotFound(f"No such image: {config.Image}") from None
        except ImageError as e:
            raise InvalidParameter(str(e)) from None
        ic = image.config.config
        entrypoint = config.Entrypoint if config.Entrypoint is not None else (
            ic.entrypoint if ic else None)
        cmd = config.Cmd
        if not cmd and config.Entrypoint is None and ic is not None:
            cmd = ic.cmd
        if entrypoint == [""]:
            entrypoint = None
        argv = [*(entrypoint or []), *(cmd or [])]
        if not argv:
            raise InvalidParameter("no command specified")
        merged = _merge_image(config, ic, entrypoint, cmd)
        mounts = self._mount_points(host, ic, config.Volumes)
        cid = self._new_id()
        if name:
            # Checked again: the awaits above let another create of the same
            # name run; the check and the reservation below have no await
            # between them, so exactly one of two racing creates gets it.
            self._check_name_free(name)
        else:
            name = self._random_name()
        self.names[name] = cid  # reserved before the first await below
        rec = Container(Id=cid, Created=now(), Path=argv[0], Args=argv[1:], Image=image.id,
                        Name="/" + name, Config=merged, HostConfig=host,
                        LogPath=self.log_path(cid), SnapshotKey=cid,
                        Driver=self.images.snapshotter.name, NetworkAliases=aliases or None)
        if not host.LogConfig.Type:
            host.LogConfig.Type = self.opts.default_log_driver
        try:
            await asyncio.to_thread(self._make, rec, mounts)
        except BaseException:
            self.names.pop(name, None)
            raise
        from .base import Entry

        entry = Entry(rec)
        entry.exited.set()
        self.containers[cid] = entry
        self.event("create", rec)
        return cid, []

    def _mount_points(self, host: HostConfig, ic: Any,
                      volumes: dict[str, Any] | None = None) -> list[Any]:
        """``-v``, ``--mount`` and the image's VOLUMEs as the volume service's
        mount points (parsed and checked; nothing made yet)."""
        from dockyard.volume import VolumeError, parse_mount, parse_volume
        from dockyard.volume.container import image_volumes, volumes_from

        try:
            mps = [parse_volume(b, host.VolumeDriver) for b in host.Binds or []]
            mps += [parse_mount(m) for m in host.Mounts or []]
        except VolumeError as ex:
            raise InvalidParameter(str(ex)) from None
        # `--volumes-from SRC[:ro|:rw]`: SRC's mount points (same volumes, same
        # host paths), unless this container's own -v/--mount names the destination.
        own = {m.Destination for m in mps}
        for ref in host.VolumesFrom or []:
            src_ref, _, mode = ref.partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidParameter(f"invalid --volumes-from {ref!r}: mode must be ro or rw")
            try:
                src = self.get(src_ref).record
            except NotFound:
                # 400, not 404: the CLI takes a 404 on create for a missing image and pulls.
                raise InvalidParameter(f"--volumes-from {ref!r}: no such container: "
                                       f"{src_ref}") from None
            inherited = [m for m in volumes_from(list(src.MountPoints or []), mode or "rw")
                         if m.Destination not in own]
            own.update(m.Destination for m in inherited)
            mps += inherited
        # `-v /path` (the CLI sends it as Config.Volumes) and the image's VOLUMEs
        anon = {**(dict(ic.volumes) if ic is not None and ic.volumes else {}), **(volumes or {})}
        mps += image_volumes(anon, mps)
        seen: set[str] = set()
        for mp in mps:
            if mp.Destination in seen:
                raise InvalidParameter(f"Duplicate mount point: {mp.Destination}")
            seen.add(mp.Destination)
        if mps and self.volumes is None:
            raise InvalidParameter("mounts need the volume service, which this engine lacks")
        return mps

    def _make(self, rec: Container, mounts: list[Any]) -> None:
        from .bundle import write_files

        d = self.container_dir(rec.Id)
        os.makedirs(d, mode=0o700)
        try:
            parent = self.images.unpack(rec.Config.Image)
            self.images.snapshotter.prepare(rec.SnapshotKey, parent,
                                            labels={"dockyard/container": rec.Id})
            if mounts:
                from dockyard.volume import VolumeError
                from dockyard.volume.container import prepare

                assert self.volumes is not None
                try:
                    rec.MountPoints = prepare(self.volumes, rec.Id, mounts)
                except VolumeError as ex:
                    raise InvalidParameter(str(ex)) from None
            rec.HostnamePath = os.path.join(d, "hostname")
            rec.HostsPath = os.path.join(d, "hosts")
            rec.ResolvConfPath = os.path.join(d, "resolv.conf")
            hc = rec.HostConfig
            write_files(d, rec.Config.Hostname or rec.Id[:12], rec.Config.Domainname,
                        extra_hosts=hc.ExtraHosts, dns=hc.Dns, dns_search=hc.DnsSearch,
                        dns_options=hc.DnsOptions, host_gateway=self._host_gateway(hc))
            self.save(rec)
        except BaseException:
            if mounts and self.volumes is not None:
                self._discard_volumes(rec.Id)
            self._discard_half_made(rec.Id)
            raise

    def _discard_volumes(self, cid: str) -> None:
        """A failed create's anonymous volumes go (named ones stay, as Docker's);
        if even that fails, the next start's ``reap`` finds the refs of an id
        with no record and finishes it."""
        import logging

        from dockyard.volume.container import discard

        assert self.volumes is not None
        try:
            discard(self.volumes, cid)
        except Exception:  # the create's own error is the one to answer
            logging.getLogger(__name__).exception("discarding the volumes of %s", cid[:12])

    def _check_name_free(self, name: str) -> None:
        other = self.names.get(name)
        if other is not None:
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                           f'container "{other}". You have to remove (or rename) that '
                           "container to be able to reuse that name.")

    def _new_id(self) -> str:
        while True:
            cid = secrets.token_hex(32)
            # The run dir uses the short id: keep it unique too.
            if not cid[:12].isdigit() and not any(c[:12] == cid[:12] for c in self.containers):
                return cid

    def _random_name(self) -> str:
        for i in range(20):
            n = names.random_name(i // 5)
            if n not in self.names:
                return n
        return "c" + secrets.token_hex(6)

    async def rename(self, ref: str, new: str) -> None:
        e = self.get(ref)
        new = names.validate(new)
        old = e.record.Name.lstrip("/")
        if new == old:
            raise InvalidParameter("Renaming a container with the same name as its current "
                                   "name")
        self._check_name_free(new)
        self.names[new] = e.record.Id
        e.record.Name = "/" + new
        try:
            await asyncio.to_thread(self.save, e.record)
        except BaseException:
            e.record.Name = "/" + old
            self.names.pop(new, None)
            raise
        self.names.pop(old, None)
        self.event("rename", e.record, oldName="/" + old)

    async def prune(self, filters: dict[str, list[str]] | None = None) -> list[str]:
        """``docker container prune``: remove every stopped container (``label``,
        ``until`` filters as Docker's)."""
        from .logfile import parse_rfc3339nano

        filters = filters or {}
        for k in filters:
            if k not in ("label", "label!", "until"):
                raise InvalidParameter(f"invalid filter '{k}'")
        gone = []
        for e in list(self.containers.values()):
            rec = e.record
            if rec.State.Running or rec.State.Restarting:
                continue
            labels = rec.Config.Labels or {}
            if not all(_has_label(labels, x) for x in filters.get("label", [])):
                continue
            if any(_has_label(labels, x) for x in filters.get("label!", [])):
                continue
            if filters.get("until"):
                limit = _until(filters["until"][0])
                if parse_rfc3339nano(rec.Created) / 1e9 >= limit:
                    continue
            async with e.lock:
                if not rec.State.Running and rec.Id in self.containers:
                    await self._drop(e)
                    gone.append(rec.Id)
        return gone

    async def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        """``docker rm``: a running container only with ``force`` (killed first)."""
        e = self.get(ref)
        async with e.lock:
            if e.record.State.Running:
                if not force:
                    state = "paused" if e.record.State.Paused else "running"
                    raise Conflict(
                        f"cannot remove container \"{e.record.Name}\": container is {state}: "
                        "stop the container before removing or force remove")
                await self._kill_and_wait(e)
            await self._drop(e, anonymous_volumes=volumes)

    async def _drop(self, e: Entry, anonymous_volumes: bool = False) -> None:
        rec = e.record
        rec.State.Status = "removing"
        await asyncio.to_thread(self._remove_files, rec, anonymous_volumes)
        self.containers.pop(rec.Id, None)
        if self.names.get(rec.Name.lstrip("/")) == rec.Id:
            del self.names[rec.Name.lstrip("/")]
        for xid in e.execs:
            self.exec_instances.pop(xid, None)
        import time

        self.tombstones = {k: v for k, v in self.tombstones.items() if v[0] > time.time() - 300}
        self.tombstones[rec.Id] = (time.time(), rec.State.ExitCode)
        e.removed.set()
        self.event("destroy", rec)

    def _remove_files(self, rec: Container, anonymous_volumes: bool = False) -> None:
        from dockyard.snapshot import errors as snap_errors

        if rec.MountPoints and self.volumes is not None:
            from dockyard.volume.container import remove as remove_mounts

            remove_mounts(self.volumes, rec.Id, rec.MountPoints, anonymous=anonymous_volumes)

        # The record goes first: from then on the container no longer exists,
        # and a crash leaves only leftovers that load() and GC remove.
        try:
            os.unlink(os.path.join(self.container_dir(rec.Id), "config.v2.json"))
        except FileNotFoundError:
            pass
        try:
            self.images.snapshotter.remove(rec.SnapshotKey)
        except snap_errors.NotFoundError:
            pass
        shutil.rmtree(self.container_dir(rec.Id), ignore_errors=True)
        shutil.rmtree(self.run_dir(rec.Id), ignore_errors=True)


def _merge_image(config: ContainerConfig, ic: Any, entrypoint: list[str] | None,
                 cmd: list[str] | None) -> ContainerConfig:
    """The record's Config: the request filled in from the image (Docker's merge)."""
    import msgspec

    from .health import merge_image_health

    out = msgspec.structs.replace(config)
    if ic is not None:
        env = list(ic.env or [])
        keys = {kv.split("=", 1)[0] for kv in config.Env or []}
        out.Env = [kv for kv in env if kv.split("=", 1)[0] not in keys] + list(config.Env or [])
        out.User = config.User or ic.user or ""
        out.WorkingDir = config.WorkingDir or ic.working_dir or ""
        labels = dict(ic.labels or {})
        labels.update(config.Labels or {})
        out.Labels = labels
        out.StopSignal = config.StopSignal or ic.stop_signal
        out.Healthcheck = merge_image_health(config.Healthcheck, ic.healthcheck)
        if ic.exposed_ports:  # the image's and the request's, as Docker merges them
            out.ExposedPorts = {**{k: {} for k in ic.exposed_ports},
                                **(config.ExposedPorts or {})}
    out.Entrypoint = entrypoint
    out.Cmd = cmd
    if out.Labels is None:
        out.Labels = {}
    return out


def _has_label(labels: dict[str, str], want: str) -> bool:
    k, sep, v = want.partition("=")
    return k in labels and (not sep or labels[k] == v)


def _until(value: str) -> float:
    import time

    from .logfile import parse_rfc3339nano

    try:
        return float(value)
    except ValueError:
        pass
    if value[-1:] in "smh" and value[:-1].isdigit():
        return time.time() - int(value[:-1]) * {"s": 1, "m": 60, "h": 3600}[value[-1]]
    try:
        return parse_rfc3339nano(value) / 1e9
    except ValueError:
        raise InvalidParameter(f"invalid until value {value!r}: expected a timestamp or "
                               "a duration like 10m") from None
