"""``VolumeService``: named and anonymous volumes, their drivers and their users.

The engine daemon makes one (``VolumeService(root, run_root)``) and calls
``restore()``. The API's ``/volumes`` routes call ``create``, ``inspect``,
``list``, ``remove`` and ``prune``; the engine calls ``acquire``/``release``
when a container that uses a volume is created/removed, and
``mount``/``unmount`` when it starts/stops (``populate`` in between does the
copy-up). ``df`` is ``system df -v``'s volume part.

Users are two sets per volume, both persisted (``store.py``): *refs*
(containers that reference the volume: it cannot be removed and is not
dangling) and *mounts* (users that have it mounted now: the local driver
mounts on the first and unmounts after the last). Order makes a crash
harmless: the driver mounts before the user is recorded and the record
goes before the driver unmounts, so after a ``kill -9`` a mount may exist
with no user but never a user with no mount; ``restore`` removes such
orphan mounts and collapses any mounted twice.

Anonymous volumes of a container create (``create(ref=cid)``) are born
with their ref, in one transaction, and remember the container they were
made for. A create that fails calls ``forget(cid)``; one cut short by a
``kill -9`` leaves refs of an id that never became a container, which the
engine's start-up hands to ``reap``: either way the ref goes, and so does
an anonymous volume made for that create that nobody else uses. Named
volumes a create made stay (Docker keeps them), as do ``volume create``'s.

One lock serialises changes. A hung plugin therefore stalls other volume
calls for at most the plugin timeout; that is the price of simple,
obviously-correct reference counting.
"""

from __future__ import annotations

import builtins
import logging
import os
import threading
from typing import Any

from dockyard.linux.atomic import cleanup_temps

from . import copyup, mountinfo
from .driver import Driver
from .errors import Conflict, InvalidParameter, NotFound, VolumeError
from .local import LocalDriver
from .model import UsageData, Volume, inspect_doc, now_rfc3339
from .names import ANONYMOUS_LABEL, new_anonymous_name, validate_name
from .plugins import DEFAULT_TIMEOUT, SOCKET_DIRS, SPEC_DIRS, PluginRegistry
from .store import Store
from .usage import tree_size

log = logging.getLogger(__name__)

LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")


def _truthy(key: str, value: str) -> bool:
    v = value.lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise InvalidParameter(f"invalid filter '{key}={value}': want true/false/1/0")


def parse_bool(key: str, value: str) -> bool:
    """Go's ``strconv.ParseBool``, which Docker's ``all`` prune filter goes through."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise InvalidParameter(f"invalid filter '{key}': strconv.ParseBool: parsing {value!r}: "
                           "invalid syntax")


def normalize_filters(filters: dict[str, Any] | None, allowed: tuple[str, ...]) -> \
        dict[str, list[str]]:
    """Docker's filter JSON (``{"k": ["v"]}`` or the old ``{"k": {"v": true}}``) as lists."""
    out: dict[str, list[str]] = {}
    for key, values in (filters or {}).items():
        if key not in allowed:
            raise InvalidParameter(f"invalid filter '{key}' (allowed: {', '.join(allowed)})")
        if isinstance(values, dict):
            out[key] = [k for k, on in values.items() if on]
        elif isinstance(values, list | tuple):
            out[key] = [str(v) for v in values]
        else:
            out[key] = [str(values)]
    return out


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        k, eq, v = w.partition("=")
        if k not in labels or (eq and labels[k] != v):
            return False
    return True


class VolumeService:
    """Volumes of one daemon. See the module docstring for the life cycle."""

    def __init__(self, root: str, run_root: str, *,
                 plugin_socket_dirs: tuple[str, ...] = SOCKET_DIRS,
                 plugin_spec_dirs: tuple[str, ...] = SPEC_DIRS,
                 plugin_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.root, self.run_root = root, run_root
        self.dir = os.path.join(root, "volumes")
        self.store = Store(self.dir)
        cleanup_temps(self.dir)
        self.local = LocalDriver(self.dir)
        self.plugins = PluginRegistry(socket_dirs=plugin_socket_dirs,
                                      spec_dirs=plugin_spec_dirs, timeout=plugin_timeout)
        self._lock = threading.RLock()

    def close(self) -> None:
        self.plugins.close()
        self.store.close()

    # --- drivers -----------------------------------------------------------------
    def driver(self, name: str) -> Driver:
        if name in ("", "local"):
            return self.local
        return self.plugins.get(name)

    def restore(self) -> None:
        """After a start (or a crash): one mount per mounted local volume, no orphan mounts.

        Subpath pins (``resolve.pin_subpath``) of users that no longer hold any
        volume are unpinned too.
        """
        from .resolve import unpin

        with self._lock:
            self._sweep_unrecorded()
            users: set[str] = set()
            for v in self.store.all():
                mounted = self.store.mounts(v.Name)
                users.update(mounted, self.store.refs(v.Name))
                if v.Driver == "local" and v.Options:
                    self.local.reconcile(v.Name, v.Options, len(mounted))
            pins = os.path.join(self.run_root, "volumes", "pins")
            for user in os.listdir(pins) if os.path.isdir(pins) else []:
                if user not in users:
                    for entry in os.listdir(os.path.join(pins, user)):
                        unpin(os.path.join(pins, user, entry))
                    os.rmdir(os.path.join(pins, user))

    def _sweep_unrecorded(self) -> None:
        """Directories of anonymous volumes with no record: a create cut short
        between the driver's ``create`` and the insert. Nothing ever named
        them (the name is new each time) and nothing was written in them yet;
        one that holds anything, or a mount, is left alone."""
        from .names import is_anonymous_name

        known = {v.Name for v in self.store.all()}
        for entry in os.listdir(self.dir):
            vdir = os.path.join(self.dir, entry)
            if entry in known or not is_anonymous_name(entry) or not os.path.isdir(vdir):
                continue
            data = os.path.join(vdir, "_data")
            if os.listdir(vdir) not in ([], ["_data"]) or \
                    (os.path.isdir(data) and os.listdir(data)) or mountinfo.under(vdir):
                continue
            if os.path.isdir(data):
                os.rmdir(data)
            os.rmdir(vdir)

    def reap(self, live: dict[str, builtins.list[str]]) -> builtins.list[str]:
        """At the engine's start: make the users match the container records.

        ``live`` maps every container with a record to the volumes its record
        names. Their refs are put back if missing (a ``kill -9`` inside ``rm``
        between the release and the record's removal: the container still
        exists, so its volumes must not look unused to ``prune``). Any other
        user is a create that never finished: ``forget`` it, which removes
        the anonymous volumes made for it. Returns the volumes removed.
        """
        removed: builtins.list[str] = []
        with self._lock:
            known = {v.Name for v in self.store.all()}
            with self.store.tx() as db:
                for cid, names in live.items():
                    for name in names:
                        if name in known:
                            db.execute("INSERT OR IGNORE INTO refs VALUES (?, ?)", (name, cid))
            for user in sorted(self.store.users_all() - set(live)):
                removed += self.forget(user)
        return removed

    def forget(self, cid: str) -> builtins.list[str]:
        """A container create that failed (or died): remove the anonymous volumes
        made for ``cid`` that nobody else uses, then release what ``cid`` still
        holds. Named volumes it made stay, as Docker keeps them. Returns the
        volumes removed.

        The order survives a ``kill -9`` anywhere: such a volume's row (and
        with it ``cid``'s ref on it) goes only after the driver removed it,
        and the other refs after that, so until the very end an orphan ref
        of ``cid`` is left for the next start's ``reap`` to finish the job.
        """
        removed: builtins.list[str] = []
        with self._lock:
            for v in self.store.all():
                if v.MadeFor != cid or not v.Anonymous:
                    continue
                if (set(self.store.refs(v.Name)) | set(self.store.mounts(v.Name))) - {cid}:
                    continue  # another container uses it now: theirs as much as ours
                self.unmount(v.Name, cid)
                try:
                    self.driver(v.Driver).remove(v.Name, v.Options)
                except VolumeError as ex:
                    # kept, never half-removed: an unused anonymous volume,
                    # which ``volume prune`` offers to remove
                    log.warning("volume %s of failed create %s kept: %s", v.Name, cid[:12], ex)
                    continue
                with self.store.tx() as db:
                    Store.delete(db, v.Name)  # its refs and mounts go with it (cascade)
                removed.append(v.Name)
            self.release_all(cid)
        return removed

    # --- records -----------------------------------------------------------------
    def get(self, name: str) -> Volume:
        v = self.store.get(name)
        if v is None:
            raise NotFound(f"get {name}: no such volume")
        return v

    def create(self, name: str | None = None, driver: str = "local",
               driver_opts: dict[str, str] | None = None,
               labels: dict[str, str] | None = None, *, ref: str = "") -> dict[str, Any]:
        """Create a volume (idempotent for the same name and driver) and return its inspect.

        ``name=None`` (or "") makes an anonymous volume: 64 hex characters and
        the ``com.docker.volume.anonymous`` label. ``ref``: the container that
        will use it (Docker's ``WithCreateReference``), recorded in the same
        transaction as the volume, so no crash leaves a volume made for a
        container without the container's ref on it; an anonymous volume
        also remembers it as ``MadeFor``.
        """
        driver = driver or "local"
        opts = dict(driver_opts or {})
        labels = dict(labels or {})
        anonymous = not name
        if anonymous:
            name = new_anonymous_name()
            labels[ANONYMOUS_LABEL] = ""
        assert name is not None
        validate_name(name)
        for k, v in [*opts.items(), *labels.items()]:
            if not isinstance(k, str) or not isinstance(v, str):
                raise InvalidParameter(f"create {name}: options and labels must be strings, "
                                       f"got {k!r}={v!r}")
        with self._lock:
            existing = self.store.get(name)
            if existing is not None:
                if existing.Driver != driver:
                    raise Conflict(f"create {name}: driver '{existing.Driver}' already has "
                                   f"volume '{name}': volume name must be unique")
                if ref:
                    with self.store.tx() as db:
                        db.execute("INSERT OR IGNORE INTO refs VALUES (?, ?)", (name, ref))
                return self._inspect(existing)
            drv = self.driver(driver)
            drv.validate(opts)
            vol = Volume(Name=name, Driver=driver, CreatedAt=now_rfc3339(), Labels=labels,
                         Options=opts, Scope=drv.scope,
                         Anonymous=anonymous or ANONYMOUS_LABEL in labels,
                         MadeFor=ref if anonymous else "")
            drv.create(name, opts)
            try:
                with self.store.tx() as db:
                    Store.insert(db, vol)
                    if ref:
                        db.execute("INSERT INTO refs VALUES (?, ?)", (name, ref))
            except BaseException:
                drv.remove(name, opts)
                raise
            return self._inspect(vol)

    def _mountpoint_status(self, v: Volume) -> tuple[str, dict[str, Any] | None]:
        if v.Driver == "local":
            return self.local.path(v.Name), None
        try:
            drv = self.plugins.get(v.Driver)
            pv = drv.get(v.Name)
        except VolumeError:
            return "", None
        return (pv.Mountpoint, pv.Status) if pv else ("", None)

    def _inspect(self, v: Volume, usage: bool = False) -> dict[str, Any]:
        mountpoint, status = self._mountpoint_status(v)
        u = None
        if usage:
            u = UsageData(Size=self._size(v), RefCount=len(self.store.refs(v.Name)))
        return inspect_doc(v, mountpoint, status=status, usage=u)

    def inspect(self, name: str, *, usage: bool = False) -> dict[str, Any]:
        return self._inspect(self.get(name), usage)

    def _size(self, v: Volume) -> int:
        return tree_size(self.local.path(v.Name)) if v.Driver == "local" else -1

    def list(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Inspect documents of the volumes matching Docker's list ``filters``."""
        f = normalize_filters(filters, LIST_FILTERS)
        dangling = None
        for value in f.get("dangling", []):
            dangling = _truthy("dangling", value)
        refs = self.store.ref_counts()
        vols = {v.Name: v for v in self.store.all()}
        for drv in self.plugins.active():
            try:
                for pv in drv.list():
                    vols.setdefault(pv.Name, Volume(Name=pv.Name, Driver=drv.name,
                                                    CreatedAt=pv.CreatedAt, Scope=drv.scope))
            except VolumeError:
                continue  # an unreachable plugin hides its volumes, not everyone's
        out = []
        for v in sorted(vols.values(), key=lambda v: v.Name):
            if dangling is not None and (refs.get(v.Name, 0) == 0) != dangling:
                continue
            if "driver" in f and v.Driver not in f["driver"]:
                continue
            if "name" in f and not any(n in v.Name for n in f["name"]):
                continue
            if "label" in f and not _labels_match(v.Labels, f["label"]):
                continue
            out.append(self._inspect(v))
        return out

    def df(self) -> builtins.list[dict[str, Any]]:
        """Every volume with ``UsageData`` (``system df -v``)."""
        return [self._inspect(v, usage=True) for v in self.store.all()]

    def remove(self, name: str, *, force: bool = False) -> None:
        """Remove a volume; refused (409, naming the users) while a container references it.

        ``force`` ignores a missing volume and a driver that fails to remove
        its side, as ``docker volume rm -f`` does; it never removes a volume in use.
        """
        with self._lock:
            v = self.store.get(name)
            if v is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = sorted(set(self.store.refs(name)) | set(self.store.mounts(name)))
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            try:
                self.driver(v.Driver).remove(name, v.Options)
            except VolumeError:
                if not force:
                    raise
            with self.store.tx() as db:
                Store.delete(db, name)

    def prune(self, *, all: bool = False, filters: dict[str, Any] | None = None) -> \
            dict[str, Any]:
        """Remove unused volumes: anonymous ones, or every unused one with ``all``.

        As Docker (>= 23, API >= 1.42) does: "anonymous" is the
        ``com.docker.volume.anonymous`` label; only the ``local`` driver's
        volumes without mount options are candidates (nothing to reclaim in a
        mount); the ``all`` filter takes one value, parsed as Go's ParseBool.
        Returns Docker's ``{"VolumesDeleted": [...], "SpaceReclaimed": n}``.
        """
        f = normalize_filters(filters, PRUNE_FILTERS)
        if len(f.get("all", [])) > 1:
            raise InvalidParameter(f"invalid filter 'all={f['all']}': only one value is expected")
        for value in f.get("all", []):
            all = all or parse_bool("all", value)
        deleted: list[str] = []
        reclaimed = 0
        with self._lock:
            refs = self.store.ref_counts()
            for v in self.store.all():
                if refs.get(v.Name) or self.store.mounts(v.Name):
                    continue
                if v.Driver != "local" or v.Options:
                    continue
                if not all and ANONYMOUS_LABEL not in v.Labels:
                    continue
                if "label" in f and not _labels_match(v.Labels, f["label"]):
                    continue
                if "label!" in f and any(_labels_match(v.Labels, [w]) for w in f["label!"]):
                    continue
                size = max(self._size(v), 0)
                try:
                    self.remove(v.Name)
                except VolumeError:
                    continue  # Docker logs and goes on with the others
                deleted.append(v.Name)
                reclaimed += size
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    # --- users -------------------------------------------------------------------
    def users(self, name: str) -> builtins.list[str]:
        self.get(name)
        return sorted(set(self.store.refs(name)) | set(self.store.mounts(name)))

    def acquire(self, name: str, ref: str) -> None:
        """Record that container ``ref`` uses volume ``name`` (blocks removal)."""
        with self._lock:
            self.get(name)
            with self.store.tx() as db:
                db.execute("INSERT OR IGNORE INTO refs VALUES (?, ?)", (name, ref))

    def release(self, name: str, ref: str) -> None:
        """Forget ``ref`` as a user of ``name`` (unmounting for it first if needed)."""
        with self._lock:
            if ref in self.store.mounts(name):
                self.unmount(name, ref)
            with self.store.tx() as db:
                db.execute("DELETE FROM refs WHERE volume = ? AND ref = ?", (name, ref))

    def release_all(self, ref: str) -> builtins.list[str]:
        """Release every volume ``ref`` uses (a container being removed); returns their names."""
        with self._lock:
            names = sorted({v.Name for v in self.store.all()
                            if ref in self.store.refs(v.Name) or ref in self.store.mounts(v.Name)})
            for n in names:
                self.release(n, ref)
            return names

    def mount(self, name: str, user_id: str) -> str:
        """Mount ``name`` for ``user_id`` and return the host path to bind into the container.

        The local driver mounts on the first user only; a second call by the
        same user changes nothing.
        """
        with self._lock:
            v = self.get(name)
            current = self.store.mounts(name)
            drv = self.driver(v.Driver)
            if user_id in current and isinstance(drv, LocalDriver):
                return drv.path(name)
            path = drv.mount(name, v.Options, first=not current, ref=user_id)
            try:
                with self.store.tx() as db:
                    db.execute("INSERT OR IGNORE INTO refs VALUES (?, ?)", (name, user_id))
                    db.execute("INSERT OR IGNORE INTO mounts VALUES (?, ?)", (name, user_id))
            except BaseException:
                drv.unmount(name, v.Options, last=not current, ref=user_id)
                raise
            return path

    def unmount(self, name: str, user_id: str) -> None:
        """``user_id`` is done with the mount; the last user's unmount unmounts."""
        with self._lock:
            v = self.get(name)
            current = self.store.mounts(name)
            if user_id not in current:
                return
            with self.store.tx() as db:
                db.execute("DELETE FROM mounts WHERE volume = ? AND ref = ?", (name, user_id))
            self.driver(v.Driver).unmount(name, v.Options, last=len(current) == 1, ref=user_id)

    def populate(self, name: str, source: str) -> bool:
        """Copy-up: fill volume ``name`` from image directory ``source`` if the volume is empty.

        The volume must be mounted (``mount``) so the copy lands where
        containers see it. Returns True if anything was copied.
        """
        v = self.get(name)
        if not self.store.mounts(name):
            raise Conflict(f"populate {name}: the volume is not mounted")
        return copyup.populate(self.driver(v.Driver).path(name), source)
