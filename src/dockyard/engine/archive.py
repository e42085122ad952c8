"""``docker cp``: the archive endpoints, with every path resolved inside the container.

Paths come from the client and the container's own symlinks may point
anywhere (``/etc -> /host/etc``); so the directory part of a path is
resolved with the runtime's ``secure_join`` (symlinks re-rooted at the
container's root, ``..`` clamped), the last component is never followed
(copying a link copies the link, as Docker does), and extraction goes
through the layer code, which refuses entries that escape or write through
a link. A stopped container's snapshot is mounted for the copy and
unmounted after, under the container's lock so it cannot start meanwhile;
its volumes and binds are mounted on it too (copy-up first, as at start),
so a copy into ``/data`` lands in the volume there, as with Docker. A
running container is reached through ``/proc/PID/root``, its own view.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import stat
import tarfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, BinaryIO

from .base import EngineBase, Entry
from .errors import InvalidParameter, NotFound


def go_mode(st: os.stat_result) -> int:
    """Go's ``os.FileMode`` bits, which the docker CLI reads from the stat header."""
    m = st.st_mode & 0o777
    kinds = [(stat.S_ISDIR, 1 << 31), (stat.S_ISLNK, 1 << 27), (stat.S_ISFIFO, 1 << 25),
             (stat.S_ISSOCK, 1 << 24), (stat.S_ISBLK, 1 << 26),
             (stat.S_ISCHR, (1 << 26) | (1 << 21))]
    for test, bit in kinds:
        if test(st.st_mode):
            m |= bit
    if st.st_mode & stat.S_ISUID:
        m |= 1 << 23
    if st.st_mode & stat.S_ISGID:
        m |= 1 << 22
    if st.st_mode & stat.S_ISVTX:
        m |= 1 << 20
    return m


def resolve(rootfs: str, path: str) -> str:
    """The host path of container path ``path``: the directory part resolved
    inside ``rootfs``, the last component not followed."""
    from dockyard.runtime.securejoin import secure_join

    if not path.startswith("/"):
        path = "/" + path
    head, tail = os.path.split(os.path.normpath(path))
    parent = secure_join(rootfs, head)
    if tail in ("", ".", ".."):
        joined = secure_join(rootfs, path)
        # The root itself: a running container's is the /proc/PID/root magic
        # link, which must be entered (stat, extract into), not seen as a link.
        return os.path.join(joined, ".") if joined == rootfs.rstrip("/") else joined
    return os.path.join(parent, tail)


def path_stat(rootfs: str, path: str) -> dict[str, Any]:
    host = resolve(rootfs, path)
    try:
        st = os.lstat(host)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {path} in container") from None
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = "/" + os.path.relpath(resolve(rootfs, os.path.join(
            os.path.dirname(path), os.readlink(host))), rootfs).lstrip("./")
    mtime = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))
    return {"name": os.path.basename(os.path.normpath(path)) or "/", "size": st.st_size,
            "mode": go_mode(st), "mtime": mtime, "linkTarget": link}


def stat_header(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


class ArchiveMixin(EngineBase):
    @contextlib.asynccontextmanager
    async def _rootfs(self, ref: str) -> AsyncIterator[tuple[Entry, str]]:
        e = self.get(ref)
        rootfs = os.path.join(self.run_dir(e.record.Id), "rootfs")
        if e.record.State.Running:
            # The container's own view (its mount namespace through the magic
            # /proc/PID/root link): volumes and binds are mounted there, not on
            # the host's rootfs mount, and `docker cp` must land in them.
            # secure_join keeps every symlink resolved below this root.
            pid = e.record.State.Pid
            view = f"/proc/{pid}/root"
            yield e, view if pid > 0 and os.path.isdir(view) else rootfs
            return
        async with e.lock:
            from dockyard.snapshot import mount_all, unmount_all

            mounts = await asyncio.to_thread(self.images.snapshotter.mounts, e.record.SnapshotKey)
            os.makedirs(rootfs, exist_ok=True)
            await asyncio.to_thread(mount_all, mounts, rootfs)
            try:
                stacked = await asyncio.to_thread(self._mount_volumes, e.record, rootfs)
                try:
                    yield e, rootfs
                finally:
                    await asyncio.to_thread(self._unmount_volumes, e.record, stacked)
            finally:
                await asyncio.to_thread(unmount_all, rootfs)

    def _mount_volumes(self, rec: Any, rootfs: str) -> list[str]:
        """Bind ``rec``'s volumes and binds onto its mounted rootfs (tmpfs ones
        are skipped: their content lives only while it runs). Returns the
        targets, to unmount in reverse."""
        if not rec.MountPoints or self.volumes is None:
            return []
        from dockyard.linux.syscalls import MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, mount
        from dockyard.runtime.securejoin import open_in_root
        from dockyard.volume import VolumeError
        from dockyard.volume.container import setup

        try:
            oci = setup(self.volumes, rec.Id, rec.MountPoints, rootfs)
        except VolumeError as ex:
            raise InvalidParameter(f"error while mounting volumes: {ex}") from None
        done: list[str] = []
        try:
            # parents before children, as the runtime mounts them
            for m in sorted((m for m in oci if m.type == "bind"),
                            key=lambda m: m.destination.count("/")):
                opts, source = m.options or [], m.source or ""
                kind = "dir" if os.path.isdir(source) else "file"
                fd = open_in_root(rootfs, m.destination, create=kind)
                try:
                    target = f"/proc/self/fd/{fd}"
                    flags = MS_BIND | (0 if "bind" in opts else MS_REC)
                    mount(source, target, None, flags)
                    real = os.readlink(target)
                finally:
                    os.close(fd)
                done.append(os.path.join(rootfs, os.path.relpath(real, rootfs)))
                if "ro" in opts:
                    mount(None, done[-1], None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        except BaseException:
            self._unmount_volumes(rec, done)
            raise
        return done

    def _unmount_volumes(self, rec: Any, targets: list[str]) -> None:
        from dockyard.linux.syscalls import MNT_DETACH, umount2
        from dockyard.volume.container import teardown

        for t in reversed(targets):
            umount2(t, MNT_DETACH)
        if rec.MountPoints and self.volumes is not None:
            teardown(self.volumes, rec.Id)

    async def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        async with self._rootfs(ref) as (_e, rootfs):
            return await asyncio.to_thread(path_stat, rootfs, path)

    async def archive_get(self, ref: str, path: str) -> tuple[dict[str, Any],
                                                              AsyncIterator[bytes]]:
        """(stat of ``path``, the tar stream of it)."""
        cm = self._rootfs(ref)
        _e, rootfs = await cm.__aenter__()
        try:
            doc = await asyncio.to_thread(path_stat, rootfs, path)
        except BaseException:
            await cm.__aexit__(None, None, None)
            raise
        host = resolve(rootfs, path)
        arcname = doc["name"] if not path.rstrip("/").endswith("/.") else "."

        async def chunks() -> AsyncIterator[bytes]:
            r, w = os.pipe()

            def write() -> None:
                try:
                    with open(w, "wb") as f, tarfile.open(fileobj=f, mode="w|",
                                                          format=tarfile.PAX_FORMAT) as tf:
                        tf.add(host, arcname=arcname, recursive=True)
                except BrokenPipeError:
                    pass

            task = asyncio.ensure_future(asyncio.to_thread(write))
            try:
                while chunk := await asyncio.to_thread(os.read, r, 1 << 16):
                    yield chunk
            finally:
                os.close(r)
                await task
                await cm.__aexit__(None, None, None)

        return doc, chunks()

    async def archive_put(self, ref: str, path: str, body: BinaryIO | Iterator[bytes]) -> None:
        """Extract the tar ``body`` into directory ``path`` of the container."""
        from dockyard.snapshot import apply_layer
        from dockyard.snapshot.errors import SnapshotError

        async with self._rootfs(ref) as (e, rootfs):
            if e.record.HostConfig.ReadonlyRootfs:
                raise InvalidParameter("container rootfs is marked read-only")
            dest = resolve(rootfs, path)
            if os.path.islink(dest):
                dest = resolve(rootfs, path.rstrip("/") + "/.")
            if not os.path.exists(dest):
                raise NotFound(f"Could not find the file {path} in container {ref}")
            if not os.path.isdir(dest):
                raise InvalidParameter(f"extraction point is not a directory: {path}")
            try:
                await asyncio.to_thread(apply_layer, body, dest, media_type="none")  # type: ignore[arg-type]
            except SnapshotError as ex:
                raise InvalidParameter(f"cannot extract the archive: {ex}") from None
