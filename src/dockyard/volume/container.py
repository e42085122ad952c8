"""A container's mounts through its life: the calls the engine makes.

::

    create   mps = parse_volume(...) / parse_mount(...) (+ image_volumes, volumes_from)
             prepare(svc, cid, mps)         name anonymous volumes, create missing
                                            named ones, acquire a ref on each
             discard(svc, cid)              the create failed after prepare:
                                            its anonymous volumes go, refs too
    start    setup(svc, cid, mps, rootfs)   mount volumes, copy-up from the image,
                                            pin subpaths, resolve binds → OCI mounts
    stop     teardown(svc, cid)             unpin, unmount (the last user unmounts)
    rm [-v]  remove(svc, cid, mps, anonymous=True)
                                            release refs; ``-v`` removes the
                                            container's anonymous volumes only

``MountPoint`` is a msgspec struct: the engine keeps the prepared list in
its container record (Docker's ``MountPoints`` in ``config.v2.json``) and
shows it with ``inspect_mounts``.

Each step undoes its own partial work on failure, so a failed start leaves
no mount behind and a failed create leaves no new anonymous volume. Named
volumes a create made stay, as Docker keeps them; but every driver and its
options are checked before the first volume is made, so bad input makes
nothing at all. After a ``kill -9`` mid-create, ``VolumeService.reap`` at
the next start does what ``discard`` would have done.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from dockyard.oci.runtime import Mount as OCIMount
from dockyard.runtime.securejoin import secure_join

from . import mountinfo
from .errors import VolumeError
from .mountspec import MountPoint, parse_volume
from .resolve import pin_subpath, resolve_bind_source, to_oci_mount, unpin
from .service import VolumeService

log = logging.getLogger(__name__)


def inspect_mounts(svc: VolumeService, mps: list[MountPoint]) -> list[dict[str, Any]]:
    """``docker inspect``'s ``Mounts``: Type, Name, Source, Destination, Driver, Mode, RW,
    Propagation (Docker's ``MountPoint`` JSON)."""
    out: list[dict[str, Any]] = []
    for mp in mps:
        doc: dict[str, Any] = {"Type": mp.Type}
        if mp.Type == "volume":
            try:
                source = svc.inspect(mp.Name)["Mountpoint"]
            except VolumeError:
                source = ""
            doc.update(Name=mp.Name, Source=source, Destination=mp.Destination,
                       Driver=mp.Driver or "local")
        else:
            doc.update(Source=mp.Source, Destination=mp.Destination)
        doc.update(Mode=mp.Mode, RW=mp.RW, Propagation=mp.Propagation)
        out.append(doc)
    return out


def image_volumes(volumes: dict[str, object] | None, mps: list[MountPoint]) -> list[MountPoint]:
    """Anonymous mount points for an image's ``VOLUME``s not already covered by ``mps``."""
    taken = {m.Destination for m in mps}
    out = []
    for dest in sorted(volumes or {}):
        mp = parse_volume(dest)
        if mp.Destination not in taken:
            out.append(mp)
            taken.add(mp.Destination)
    return out


def volumes_from(source: list[MountPoint], mode: str = "rw") -> list[MountPoint]:
    """``--volumes-from SRC[:ro|rw]``: SRC's mount points, read-only with ``ro``, no copy-up."""
    ro = "ro" in mode.split(",")
    return [MountPoint(Type=m.Type, Destination=m.Destination, Source=m.Source,
                       RW=m.RW and not ro, Name=m.Name, Driver=m.Driver, Mode=m.Mode,
                       Propagation=m.Propagation, CopyData=False, Spec=m.Spec)
            for m in source]


def prepare(svc: VolumeService, cid: str, mps: list[MountPoint]) -> list[MountPoint]:
    """Give every volume mount point a volume (created if missing) and a ref for ``cid``.

    Drivers and options are checked first, for every volume to be made, so a
    bad one later in the list makes nothing. A failure after that (a plugin
    refusing its create) removes the anonymous volumes made so far.
    """
    todo: list[tuple[MountPoint, str, dict[str, str] | None, dict[str, str] | None]] = []
    for mp in mps:
        if mp.Type != "volume":
            continue
        opts = mp.Spec.VolumeOptions
        driver = mp.Driver or "local"
        driver_opts = opts.DriverConfig.Options if opts and opts.DriverConfig else None
        labels = opts.Labels if opts else None
        todo.append((mp, driver, driver_opts, labels))
        if not mp.Name or svc.store.get(mp.Name) is None:
            svc.driver(driver).validate(dict(driver_opts or {}))
    try:
        for mp, driver, driver_opts, labels in todo:
            if not mp.Name:
                mp.Name = svc.create(None, driver, driver_opts, labels, ref=cid)["Name"]
            elif svc.store.get(mp.Name) is None:
                # (made by a racing create meanwhile: create is idempotent, ref and all)
                svc.create(mp.Name, driver, driver_opts, labels, ref=cid)
            else:
                svc.acquire(mp.Name, cid)
                mp.Driver = svc.get(mp.Name).Driver  # the volume's, whatever was asked
            mp.Driver = mp.Driver or driver
    except BaseException:
        try:
            svc.forget(cid)
        except VolumeError:  # the first error is the one to answer; reap finishes later
            log.exception("undoing the volumes of %s", cid[:12])
        raise
    return mps


def discard(svc: VolumeService, cid: str) -> list[str]:
    """Undo ``prepare`` for a create that failed after it: ``cid``'s anonymous
    volumes are removed, its refs released; named volumes stay."""
    return svc.forget(cid)


def _pin_dir(svc: VolumeService, cid: str) -> str:
    # service.restore() knows this layout too: it unpins what dead users left.
    return os.path.join(svc.run_root, "volumes", "pins", cid)


def setup(svc: VolumeService, cid: str, mps: list[MountPoint], rootfs: str) -> list[OCIMount]:
    """Mount, copy up, pin and resolve: the OCI mounts for ``cid``'s config.json."""
    out: list[OCIMount] = []
    try:
        for i, mp in enumerate(mps):
            if mp.Type == "volume":
                path = svc.mount(mp.Name, cid)
                if mp.CopyData:
                    svc.populate(mp.Name, secure_join(rootfs, mp.Destination))
                sub = mp.Spec.VolumeOptions.Subpath if mp.Spec.VolumeOptions else ""
                if sub:
                    path = pin_subpath(path, sub, os.path.join(_pin_dir(svc, cid), str(i)))
                out.append(to_oci_mount(mp, path))
            elif mp.Type == "bind":
                out.append(to_oci_mount(mp, resolve_bind_source(mp)))
            else:
                out.append(to_oci_mount(mp))
    except BaseException:
        teardown(svc, cid)
        raise
    return out


def teardown(svc: VolumeService, cid: str) -> None:
    """Undo ``setup``: unpin subpaths and unmount ``cid``'s volumes (refs stay)."""
    pins = _pin_dir(svc, cid)
    if os.path.isdir(pins):
        for entry in os.listdir(pins):
            unpin(os.path.join(pins, entry))
        if not mountinfo.under(pins):
            shutil.rmtree(pins, ignore_errors=True)
    for v in svc.store.all():
        if cid in svc.store.mounts(v.Name):
            svc.unmount(v.Name, cid)


def remove(svc: VolumeService, cid: str, mps: list[MountPoint], *,
           anonymous: bool = False) -> list[str]:
    """Release ``cid``'s refs; with ``anonymous`` (``rm -v``) remove its anonymous volumes.

    Returns the volumes removed. A volume another container still uses stays.
    """
    teardown(svc, cid)
    svc.release_all(cid)
    removed = []
    if anonymous:
        for mp in mps:
            if mp.Type != "volume" or not mp.Name:
                continue
            v = svc.store.get(mp.Name)
            # Docker's rule: a mount point the user named (``-v NAME:/d``) is
            # never removed, even when the volume is anonymous (``volume create``)
            if v is None or not v.Anonymous or mp.Spec.Source:
                continue
            try:
                svc.remove(mp.Name)
                removed.append(mp.Name)
            except VolumeError:
                continue  # still in use by another container: Docker keeps it too
    return removed
