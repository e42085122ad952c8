"""``docker commit``: a container's writable layer becomes an image.

The layer is the snapshot's diff against its parent (``diff_snapshot``,
gzip), written to the content store under a lease; the image config is the
base image's, with the container's own config (Cmd, Entrypoint, Env,
WorkingDir, User, Labels, ExposedPorts, StopSignal, Healthcheck) and then
the ``--change`` instructions (parsed and applied by the image service's
``changes`` module) on top; one history entry is added. Registering the
manifest is the image service's one transaction, so a crash leaves no
half-image. A running container is paused for the diff unless
``pause=false``, as Docker does.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from typing import Any

from .base import EngineBase
from .errors import InvalidParameter, NotFound


class CommitMixin(EngineBase):
    async def commit(self, ref: str, *, name: str | None = None, author: str = "",
                     comment: str = "", changes: list[str] | None = None,
                     pause: bool = True) -> str:
        """The new image's id."""
        e = self.get(ref)
        rec = e.record
        paused_here = False
        if pause and rec.State.Running and not rec.State.Paused:
            await asyncio.to_thread(self.runtime.pause, rec.Id)
            paused_here = True
        try:
            return await asyncio.to_thread(self._commit, rec, name, author, comment,
                                           changes or [])
        finally:
            if paused_here and e.record.State.Running:
                await asyncio.to_thread(self.runtime.resume, rec.Id)

    def _commit(self, rec: Any, name: str | None, author: str, comment: str,
                changes: list[str]) -> str:
        import msgspec

        from dockyard.images.changes import apply_changes, parse_changes
        from dockyard.images.errors import ImageError, ImageNotFoundError
        from dockyard.images.inspect import rfc3339
        from dockyard.images.model import dump_config
        from dockyard.oci import mediatypes as mt
        from dockyard.oci.image import (
            ContainerConfig,
            Descriptor,
            History,
            ImageConfig,
            Manifest,
            RootFS,
            dump,
        )
        from dockyard.snapshot.diff import diff_snapshot

        images = self.images
        try:
            base = images.get(rec.Image)
        except ImageNotFoundError:
            raise NotFound(f"the image of container {rec.Id[:12]} is gone: {rec.Image}") from None
        try:
            change_list = parse_changes(changes)
        except ImageError as ex:
            raise InvalidParameter(str(ex)) from None
        c = rec.Config
        bc = base.config.config or ContainerConfig()
        cfg = msgspec.structs.replace(
            bc, user=c.User or None, env=c.Env, entrypoint=c.Entrypoint, cmd=c.Cmd,
            working_dir=c.WorkingDir or None, labels=c.Labels or None,
            stop_signal=c.StopSignal or bc.stop_signal,
            exposed_ports={k: {} for k in c.ExposedPorts} if c.ExposedPorts else bc.exposed_ports)
        if c.Healthcheck is not None and c.Healthcheck.Test:
            from dockyard.oci.image import HealthConfig

            h = c.Healthcheck
            cfg = msgspec.structs.replace(cfg, healthcheck=HealthConfig(
                test=h.Test, interval=h.Interval, timeout=h.Timeout,
                start_period=h.StartPeriod, start_interval=h.StartInterval, retries=h.Retries))
        try:
            cfg = apply_changes(cfg, change_list)
        except ImageError as ex:
            raise InvalidParameter(str(ex)) from None
        now = rfc3339(time.time())
        lease = images.new_lease()
        try:
            with tempfile.TemporaryFile(dir=self.opts.root) as f:
                result = diff_snapshot(images.snapshotter, rec.SnapshotKey, f, compression="gzip")
                f.seek(0)
                digest, size = images.write_blob(f, lease=lease)
            layer = Descriptor(media_type=mt.OCI_LAYER_GZIP, digest=digest, size=size)
            history = [*(base.config.history or []), History(
                created=now, author=author or None, comment=comment or None,
                created_by=" ".join([rec.Path, *rec.Args]))]
            config = ImageConfig(
                created=now, author=author or None, architecture=base.config.architecture,
                os=base.config.os, variant=base.config.variant, config=cfg,
                rootfs=RootFS(diff_ids=[*base.diff_ids, result.diff_id]), history=history)
            data = dump_config(config)
            cdigest, _ = images.write_blob(data, lease=lease)
            manifest = Manifest(
                schema_version=2, media_type=mt.OCI_MANIFEST,
                config=Descriptor(media_type=mt.OCI_CONFIG, digest=cdigest, size=len(data)),
                layers=[*base.layers, layer])
            mdata = dump(manifest)
            mdigest, _ = images.write_blob(mdata, lease=lease)
            img = images.register(Descriptor(media_type=mt.OCI_MANIFEST, digest=mdigest,
                                             size=len(mdata)), [name] if name else [])
        finally:
            images.content.delete_lease(lease)
        return str(img.id)
