"""``ImageService``: dockerd's image service over a content store and a snapshotter.

One object owns three stores: the content store (blobs), the snapshotter
(unpacked layers) and the metadata DB (names → images). This module has
the core verbs (resolve, get, list, inspect, history, tag, df, unpack,
register, gc); the others live beside it, one module each (``remove`` for
rm and prune, ``filters``, ``importing``, ``load``, ``save``, ``export``)
and are reachable as methods here.

Invariants, and how a ``kill -9`` keeps them:

- an image is listed only when every blob of its chosen platform is in the
  content store: blobs are written first (under a lease, so a concurrent
  GC leaves them alone), then one SQLite transaction adds the image and its
  names;
- blobs are kept alive by the images' targets, passed to the content
  store's GC as roots, and the ``gc.ref`` labels set on each manifest and
  index before the transaction;
- work in progress is tagged with the pid that does it (lease ids, ingest
  refs, extract snapshot keys); whatever a dead pid left behind is removed
  by ``cleanup`` (run at open) and then collected.
"""

from __future__ import annotations

import builtins
import itertools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, BinaryIO

from dockyard import content as content_pkg
from dockyard.content import ContentStore
from dockyard.content import errors as content_errors
from dockyard.linux.procs import pid_alive
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest, is_digest
from dockyard.oci.errors import InvalidSpecError, NoMatchingPlatformError
from dockyard.oci.image import (
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    format_platform,
    host_platform,
    load_image_config,
    parse_platform,
    select_platform,
)
from dockyard.snapshot import Kind, Limits, Snapshotter
from dockyard.snapshot import errors as snapshot_errors

from . import graph
from . import inspect as shapes
from .errors import (
    ImageConflictError,
    ImageError,
    ImageNotFoundError,
    InvalidFilterError,
    InvalidImageError,
    InvalidReferenceError,
    PlatformNotFoundError,
    UnsupportedMediaTypeError,
)
from .filters import match_filters, ref_matches
from .model import Image
from .reference import Reference, is_image_id_prefix, parse
from .store import ImageRecord, MetadataStore, Target
from .streams import FileRange

LABEL_PID = "dockyard.images/pid"  # on leases: the process that holds them
LABEL_LAYER = "dockyard.images/layer"  # on committed layer snapshots: the diff id
ROOT_OWNER = "dockyard.images"  # value of the gc.root label on image targets
INGEST_PREFIX = "dockyard-images-"
EXTRACT_PREFIX = "extract-"

# Who uses an image: returns container ids (the engine plugs this in).
Users = Callable[[str], list[str]]




class ImageService:
    """dockerd's image service, in-process (the API wraps it later)."""

    def __init__(
        self,
        content: ContentStore,
        snapshotter: Snapshotter,
        metadata: MetadataStore,
        *,
        platform: Platform | str | None = None,
        users: Users | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.content = content
        self.snapshotter = snapshotter
        self.metadata = metadata
        # The platform picked from multi-platform indexes: this machine's
        # (linux/amd64 here) unless told.
        self.platform = (
            parse_platform(platform) if isinstance(platform, str) else platform or host_platform()
        )
        self.users: Users = users or (lambda _id: [])
        self.limits = limits or Limits()
        self._prefix = f"{INGEST_PREFIX}{os.getpid()}-{_token()}-"
        self._counter = itertools.count(1)  # next() is atomic under the GIL: thread-safe
        self.cleanup()

    @classmethod
    def open(cls, root: str, *, snapshotter: str = "overlay", **kwargs: Any) -> ImageService:
        """The service over ``root``'s stores: ``content/``, ``snapshots/<name>/``,
        ``images/metadata.db`` (created when missing)."""
        from dockyard.content.local import LocalStore
        from dockyard.snapshot import new_snapshotter

        os.makedirs(root, exist_ok=True)
        return cls(
            LocalStore(os.path.join(root, "content")),
            new_snapshotter(snapshotter, os.path.join(root, "snapshots", snapshotter)),
            MetadataStore(os.path.join(root, "images", "metadata.db")),
            **kwargs,
        )

    def close(self) -> None:
        self.metadata.close()
        self.snapshotter.close()
        close = getattr(self.content, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ImageService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- lookup ------------------------------------------------------------

    def resolve(self, ref: str) -> ImageRecord:
        """The image ``ref`` names: a name (``busybox``, ``busybox:1``,
        ``repo@sha256:…``), a full id (``sha256:…`` or 64 hex) or an
        unambiguous id prefix. Raises ``ImageNotFoundError``."""
        record, _ = self._resolve(ref)
        return record

    def _resolve(self, ref: str) -> tuple[ImageRecord, str | None]:
        """Also returns the stored name when ``ref`` matched by name."""
        if is_digest(ref) or re.fullmatch(r"[a-f0-9]{64}", ref):
            full = ref if ref.startswith("sha256:") else "sha256:" + ref
            rec = self.metadata.get(full)
            if rec is not None:
                return rec, None
            for iid in self.metadata.ids_with_target(full):
                rec = self.metadata.get(iid)
                if rec is not None:
                    return rec, None
            raise ImageNotFoundError(ref)
        try:
            named = parse(ref)
        except InvalidReferenceError:
            if not is_image_id_prefix(ref):
                raise
            named = None
        if named is not None:
            image_id = self.metadata.resolve_name(str(named))
            if image_id is None and named.digest is not None and named.tag is not None:
                image_id = self.metadata.resolve_name(str(named.with_digest(named.digest)))
            if image_id is not None:
                rec = self.metadata.get(image_id)
                if rec is not None:
                    return rec, str(self._stored_name(named))
            if named.digest is not None:
                # repo@digest of a manifest we hold under another name.
                for iid in self.metadata.ids_with_target(named.digest):
                    rec = self.metadata.get(iid)
                    if rec is not None and any(
                        parse(n, default_tag=False).name == named.name for n in rec.names
                    ):
                        return rec, None
        if is_image_id_prefix(ref):
            prefix = ref if ref.startswith("sha256:") else "sha256:" + ref
            ids = self.metadata.ids_with_prefix(prefix)
            if len(ids) > 1:
                raise ImageConflictError(f"ambiguous image id prefix {ref!r}: matches {len(ids)} images")
            if ids:
                rec = self.metadata.get(ids[0])
                if rec is not None:
                    return rec, None
        raise ImageNotFoundError(ref)

    def _stored_name(self, named: Reference) -> str:
        if named.digest is not None and named.tag is not None and self.metadata.resolve_name(str(named)) is None:
            return str(named.with_digest(named.digest))
        return str(named)

    def get(self, ref: str, *, platform: Platform | str | None = None) -> Image:
        """The image, with the manifest for ``platform`` (default: the service's)."""
        return self._image(self.resolve(ref), platform)

    def _image(self, rec: ImageRecord, platform: Platform | str | None = None) -> Image:
        target = Descriptor(media_type=rec.target.media_type, digest=rec.target.digest,
                            size=rec.target.size)
        manifest_desc, manifest = self._select(target, platform)
        config = self._read_config(manifest)
        return Image(rec, manifest_desc, manifest, config)

    def _select(
        self, target: Descriptor, platform: Platform | str | None = None
    ) -> tuple[Descriptor, Manifest]:
        """Follow an index down to the manifest for ``platform``."""
        desc = target
        for _ in range(8):  # nested indexes are allowed, loops are not
            node = graph.read_node(self.content, desc)
            if isinstance(node, Manifest):
                return desc, node
            try:
                desc = select_platform(node, platform or self.platform)
            except NoMatchingPlatformError as e:
                raise PlatformNotFoundError(str(e)) from None
            if not self.content.exists(desc.digest):
                raise PlatformNotFoundError(
                    f"image {target.digest}: the manifest for {format_platform(desc.platform or self.platform)} "
                    f"({desc.digest}) is not in the store"
                )
        raise InvalidImageError(f"{target.digest}: indexes nested too deep")

    def _read_config(self, manifest: Manifest) -> ImageConfig:
        try:
            data = self.content.read(manifest.config.digest)
        except content_errors.NotFoundError:
            raise InvalidImageError(f"config {manifest.config.digest} is not in the store") from None
        try:
            return load_image_config(data)
        except InvalidSpecError as e:
            raise InvalidImageError(str(e)) from None

    def images(self) -> builtins.list[Image]:
        """Every image (newest first); images whose content went missing are skipped."""
        out = []
        for rec in self.metadata.all():
            try:
                out.append(self._image(rec))
            except (ImageError, content_errors.ContentError):
                continue
        return out

    def platforms(self, ref: str) -> builtins.list[dict[str, Any]]:
        """The platforms an image's index lists, with whether each is here."""
        rec = self.resolve(ref)
        target = Descriptor(media_type=rec.target.media_type, digest=rec.target.digest, size=rec.target.size)
        node = graph.read_node(self.content, target)
        if isinstance(node, Manifest):
            img = self._image(rec)
            return [{"platform": format_platform(img.config.platform), "digest": target.digest,
                     "available": True}]
        return [
            {"platform": format_platform(d.platform) if d.platform else "unknown",
             "digest": d.digest, "available": self.content.exists(d.digest)}
            for d in node.manifests
        ]

    # --- docker-shaped reads --------------------------------------------------

    def list(self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None) -> builtins.list[dict[str, Any]]:
        """``docker image ls``: ``ImageSummary`` objects, newest first.

        Filters (Docker's): ``dangling=true|false``, ``reference=PATTERN``
        (path.Match on the familiar name, with or without tag),
        ``label=KEY`` or ``label=KEY=VALUE``, ``before=IMAGE``, ``since=IMAGE``.
        """
        filters = {k: list(v) for k, v in (filters or {}).items()}
        unknown = set(filters) - {"dangling", "reference", "label", "before", "since", "until"}
        if unknown:
            raise InvalidFilterError(f"invalid filter {sorted(unknown)[0]!r}")
        images = self.images()
        before = [shapes.created_time(self.get(r)) for r in filters.get("before", [])]
        since = [shapes.created_time(self.get(r)) for r in filters.get("since", [])]
        out = []
        parents = {img.record.parent for img in images if img.record.parent}
        for img in images:
            # Intermediate images (untagged parents of others) show only with -a.
            if not all and img.dangling and img.id in parents:
                continue
            if not match_filters(img, filters, before, since):
                continue
            summary = shapes.summary(img, containers=len(self.users(img.id)))
            patterns = filters.get("reference", [])
            if patterns:
                # As Docker: only the names the pattern matched are shown.
                summary["RepoTags"] = [t for t in summary["RepoTags"] if ref_matches(t, patterns)]
                summary["RepoDigests"] = [d for d in summary["RepoDigests"] if ref_matches(d, patterns)]
            out.append(summary)
        return out

    def inspect(self, ref: str) -> dict[str, Any]:
        img = self.get(ref)
        doc = shapes.inspect(img, graph_driver=self.snapshotter.name)
        if mt.is_index(img.record.target.media_type):
            doc["Manifests"] = [
                {"ID": p["digest"], "Available": p["available"], "Kind": "image",
                 "ImageData": {"Platform": p["platform"]}}
                for p in self.platforms(ref)
            ]
        return doc

    def history(self, ref: str) -> builtins.list[dict[str, Any]]:
        return shapes.history(self.get(ref))

    # --- tag, register ------------------------------------------------------------

    def tag(self, source: str, target: str) -> None:
        """Give the image ``source`` names the name ``target`` (``busybox:mine``)."""
        ref = parse(target)
        if ref.digest is not None:
            raise InvalidReferenceError(
                f"invalid reference format: refusing to create a tag with a digest reference ({target!r})"
            )
        rec = self.resolve(source)
        with self.metadata.transaction() as db:
            MetadataStore.set_ref(db, str(ref), rec.id)

    def register(
        self,
        target: Descriptor,
        names: Iterable[str] = (),
        *,
        labels: Mapping[str, str] | None = None,
        parent: str = "",
        created: float | None = None,
    ) -> Image:
        """Add an image whose blobs are already in the content store.

        Verifies the target, the chosen platform's manifest and config, and
        that every layer is present with its size; labels the blobs for GC;
        then, in one transaction, adds the image and points ``names`` at it.
        """
        return self.register_many([(target, list(names))], labels=labels, parent=parent,
                                  created=created)[0]

    def register_many(
        self,
        items: Sequence[tuple[Descriptor, Sequence[str]]],
        *,
        labels: Mapping[str, str] | None = None,
        parent: str = "",
        created: float | None = None,
    ) -> builtins.list[Image]:
        """``register`` for several images: all are checked before any is
        added, and all are added in one transaction (``load`` of an archive)."""
        checked = []
        for target, names in items:
            refs = [str(parse(n)) for n in names]
            checked.append((target, refs, *self._check(target)))
        for target, _, root, manifest_desc, manifest, config in checked:
            for layer, diff_id in zip(manifest.layers, config.rootfs.diff_ids, strict=True):
                self.content.update_labels(layer.digest, {content_pkg.LABEL_UNCOMPRESSED: diff_id})
            self.content.update_labels(manifest_desc.digest, graph.gc_labels(manifest))
            if isinstance(root, Index):
                self.content.update_labels(target.digest, graph.gc_labels(root))
            # A root for every GC, also one run by someone who does not pass
            # our targets; ``gc`` takes the label off once no image is left.
            self.content.update_labels(target.digest, {content_pkg.LABEL_GC_ROOT: ROOT_OWNER})
        sync = getattr(self.content, "sync", None)
        if sync is not None:
            # Links of blobs written with durable=False (by this load, or by
            # another process whose blob we found there) before the record.
            sync()
        with self.metadata.transaction() as db:
            for target, refs, _, _, manifest, _ in checked:
                image_id = manifest.config.digest
                MetadataStore.put(db, image_id, Target(target.media_type, target.digest, target.size),
                                  labels=labels, parent=parent, created=created)
                for name in refs:
                    MetadataStore.set_ref(db, name, image_id)
        out = []
        for _, _, _, manifest_desc, manifest, config in checked:
            rec = self.metadata.get(manifest.config.digest)
            assert rec is not None
            out.append(Image(rec, manifest_desc, manifest, config))
        return out

    def _check(self, target: Descriptor) -> tuple[Manifest | Index, Descriptor, Manifest, ImageConfig]:
        if not (mt.is_manifest(target.media_type) or mt.is_index(target.media_type)):
            raise UnsupportedMediaTypeError(
                f"{target.digest}: media type {target.media_type!r} is not an image manifest or index"
            )
        try:
            root = graph.read_node(self.content, target)
        except content_errors.NotFoundError:
            raise InvalidImageError(f"{target.media_type} {target.digest} is not in the store") from None
        manifest_desc, manifest = self._select(target)
        config = self._read_config(manifest)
        if len(config.rootfs.diff_ids) != len(manifest.layers):
            raise InvalidImageError(
                f"manifest {manifest_desc.digest}: {len(manifest.layers)} layers but the config "
                f"lists {len(config.rootfs.diff_ids)} diff_ids"
            )
        try:
            info = self.content.info(manifest.config.digest)
        except content_errors.NotFoundError:
            raise InvalidImageError(f"config {manifest.config.digest} is not in the store") from None
        if info.size != manifest.config.size:
            raise InvalidImageError(
                f"config {manifest.config.digest}: size {info.size}, manifest says {manifest.config.size}"
            )
        for layer in manifest.layers:
            try:
                info = self.content.info(layer.digest)
            except content_errors.NotFoundError:
                raise InvalidImageError(f"layer {layer.digest} is not in the store") from None
            if info.size != layer.size:
                raise InvalidImageError(f"layer {layer.digest}: size {info.size}, manifest says {layer.size}")
        return root, manifest_desc, manifest, config

    # --- writing blobs -------------------------------------------------------------

    def new_lease(self) -> str:
        """A lease for work in progress, marked with our pid so a crash's is found."""
        lease = self.content.create_lease(
            f"{self._prefix}lease-{_token()}", labels={LABEL_PID: str(os.getpid())}
        )
        return lease.id

    def ingest_ref(self) -> str:
        """A fresh ingest ref, carrying our pid (see ``cleanup``)."""
        return f"{self._prefix}{next(self._counter)}"

    def write_blob(
        self, source: bytes | IO[bytes] | FileRange, *, lease: str, expected: str | None = None,
        size: int | None = None, labels: Mapping[str, str] | None = None, durable: bool = True,
    ) -> tuple[Digest, int]:
        """Write bytes, a stream or a ``FileRange`` to the content store;
        returns (digest, size).

        ``expected``/``size`` are verified when given. A blob that is already
        there is not written again (the stream is still read to its end so
        the caller's position is where it expects). ``durable=False`` (a
        load's many blobs) leaves making the blobs' links durable to
        ``register_many``, which syncs the content store once before it
        records an image.
        """
        if isinstance(source, FileRange):
            if size is not None and size != source.size:
                raise InvalidImageError(f"blob: {source.size} bytes, expected {size}")
            size = source.size
        ref = self.ingest_ref()
        if expected is not None and self.content.exists(expected):
            n = source.size if isinstance(source, FileRange) else _drain(source)
            if size is not None and n != size and not isinstance(source, bytes):
                raise InvalidImageError(f"blob {expected}: {n} bytes, expected {size}")
            self.content.add_to_lease(lease, expected)
            if labels:
                self.content.update_labels(expected, labels)
            return Digest(expected), self.content.info(expected).size
        if not durable and isinstance(self.content, content_pkg.LocalStore):
            writer: Any = self.content.writer(ref, expected, size, lease=lease, durable=False)
        else:
            writer = self.content.writer(ref, expected, size, lease=lease)
        try:
            if isinstance(source, (bytes, bytearray)):
                writer.write(source)
            elif isinstance(source, FileRange):
                _write_range(writer, source)
            else:
                while chunk := source.read(1 << 20):
                    writer.write(chunk)
            digest, n = writer.digest(), writer.offset
            try:
                info = writer.commit(size, expected, labels)
            except content_errors.AlreadyExistsError:
                self.content.add_to_lease(lease, digest)
                if labels:
                    self.content.update_labels(digest, labels)
                return digest, n
        except content_errors.VerificationError as e:
            raise InvalidImageError(str(e)) from None
        except BaseException:
            writer.close()  # an open writer holds the ingest: abort would be refused
            try:
                self.content.abort(ref)
            except content_errors.ContentError:
                pass
            raise
        finally:
            writer.close()
        return info.digest, info.size

    # --- unpack --------------------------------------------------------------------

    def unpack(self, ref: str) -> str:
        """Unpack the image's layers into snapshots (once: layers already
        there are reused); returns the top chain ID, the parent for a
        container's snapshot ("" for an image without layers)."""
        img = self.get(ref)
        parent = ""
        for layer, diff_id, chain in zip(img.layers, img.diff_ids, img.chain_ids, strict=True):
            try:
                info = self.snapshotter.stat(chain)
                if info.kind == Kind.COMMITTED:
                    parent = chain
                    continue
            except snapshot_errors.NotFoundError:
                pass
            key = f"{EXTRACT_PREFIX}{os.getpid()}-{_token()} {chain}"
            mounts = self.snapshotter.prepare(key, parent)
            from dockyard.snapshot.apply import apply_layer_to_mounts

            try:
                with self.content.open(layer.digest) as f:
                    # The store verified the blob's digest when it was written.
                    result = apply_layer_to_mounts(f, mounts, media_type=layer.media_type,
                                                   limits=self.limits, digest=layer.digest)
                if result.diff_id != diff_id:
                    raise InvalidImageError(
                        f"layer {layer.digest}: its content has diff ID {result.diff_id}, "
                        f"the config says {diff_id}"
                    )
                self.snapshotter.commit(chain, key, labels={LABEL_LAYER: diff_id})
            except snapshot_errors.AlreadyExistsError:
                self.snapshotter.remove(key)  # unpacked by someone else meanwhile
            except BaseException:
                try:
                    self.snapshotter.remove(key)
                except snapshot_errors.SnapshotError:
                    pass
                raise
            parent = chain
        return parent

    # --- rm, prune, df ----------------------------------------------------------------

    def remove(self, ref: str, *, force: bool = False, prune: bool = True) -> builtins.list[dict[str, str]]:
        """``docker rmi`` (see ``remove.remove``)."""
        from .remove import remove

        return remove(self, ref, force=force, prune=prune)

    def prune(
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, Any]:
        """``docker image prune`` (see ``remove.prune``)."""
        from .remove import prune

        return prune(self, all=all, filters=filters)

    def df(self) -> dict[str, Any]:
        """``docker system df -v``'s images: size, shared and unique bytes per
        image, from the same reference graph as GC."""
        images = self.images()
        reach: dict[str, dict[str, int]] = {}
        counts: dict[str, int] = {}
        for img in images:
            target = Descriptor(media_type=img.record.target.media_type,
                                digest=img.record.target.digest, size=img.record.target.size)
            reach[img.id] = graph.reachable(self.content, target)
            for d in reach[img.id]:
                counts[d] = counts.get(d, 0) + 1
        rows = []
        for img in images:
            blobs = reach[img.id]
            shared = sum(s for d, s in blobs.items() if counts[d] > 1)
            total = sum(blobs.values())
            rows.append({
                "Id": img.id,
                "RepoTags": img.repo_tags,
                "Created": int(shapes.created_time(img)),
                "Size": total,
                "SharedSize": shared,
                "UniqueSize": total - shared,
                "Containers": len(self.users(img.id)),
            })
        layers = {d: s for blobs in reach.values() for d, s in blobs.items()}
        return {"LayersSize": sum(layers.values()), "Images": rows}

    # --- garbage collection ----------------------------------------------------------

    def gc(self) -> builtins.list[str]:
        """Collect blobs no image reaches and layer snapshots no image uses;
        returns the removed snapshots' chain IDs (Docker prints them as
        ``Deleted:`` lines)."""
        return self._collect()[0]

    def _collect(self) -> tuple[builtins.list[str], int]:
        """``gc``, also returning the bytes freed (blobs and snapshots)."""
        self.cleanup(collect=False)
        roots = [t.digest for t in self.metadata.targets()]
        for blob in self.content.list({content_pkg.LABEL_GC_ROOT: ROOT_OWNER}):
            if blob.digest not in roots:
                self.content.update_labels(blob.digest, {content_pkg.LABEL_GC_ROOT: None})
        freed = self.content.gc(roots).bytes_freed
        used: set[str] = set()
        for img in self.images():
            used.update(img.chain_ids)
        removed: builtins.list[str] = []
        progress = True
        while progress:  # leaves first: a parent goes once its children have
            progress = False
            for info in self.snapshotter.walk(kind=Kind.COMMITTED):
                if LABEL_LAYER not in info.labels or info.name in used:
                    continue
                try:
                    size = self.snapshotter.usage(info.name).size
                    self.snapshotter.remove(info.name)
                except snapshot_errors.SnapshotError:
                    continue
                removed.append(info.name)
                freed += size
                progress = True
        return removed, freed

    def cleanup(self, *, collect: bool = True) -> bool:
        """Remove what dead processes left: their leases, ingests and extract
        snapshots; then (``collect``) collect the blobs they held. Returns
        whether anything was found."""
        found = False
        for lease in self.content.list_leases():
            holder = lease.labels.get(LABEL_PID, "")
            if holder.isdigit() and not pid_alive(int(holder)):
                self.content.delete_lease(lease.id)
                found = True
        for st in self.content.list_statuses():
            ingest_pid = _pid_of(st.ref, INGEST_PREFIX)
            if ingest_pid is not None and not pid_alive(ingest_pid):
                try:
                    self.content.abort(st.ref)
                except content_errors.ContentError:
                    pass
                found = True
        for info in self.snapshotter.walk(kind=Kind.ACTIVE):
            extract_pid = _pid_of(info.name, EXTRACT_PREFIX)
            if extract_pid is not None and not pid_alive(extract_pid):
                try:
                    self.snapshotter.remove(info.name)
                    found = True
                except snapshot_errors.SnapshotError:
                    pass
        if found and collect:
            self.gc()
        return found

    # --- format verbs (one module each) ----------------------------------------------

    def import_image(self, source: BinaryIO | str, ref: str | None = None, **kwargs: Any) -> Image:
        from .importing import import_image

        return import_image(self, source, ref, **kwargs)

    def load(self, source: BinaryIO | str, **kwargs: Any) -> builtins.list[str]:
        from .load import load

        return load(self, source, **kwargs)

    def save(self, refs: Sequence[str], out: BinaryIO, **kwargs: Any) -> None:
        from .save import save

        save(self, refs, out, **kwargs)

    def export(self, mounts: Any, out: BinaryIO) -> None:
        from .export import export_mounts

        export_mounts(mounts, out)


def _write_range(writer: Any, r: FileRange) -> None:
    write_range = getattr(writer, "write_range", None)
    if write_range is not None:
        write_range(r.fd, r.offset, r.size)
        return
    done = 0
    while done < r.size:
        chunk = os.pread(r.fd, min(1 << 20, r.size - done), r.offset + done)
        if not chunk:
            raise InvalidImageError(f"blob: the file ends {r.size - done} bytes early")
        writer.write(chunk)
        done += len(chunk)


def _drain(source: bytes | IO[bytes]) -> int:
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    n = 0
    while chunk := source.read(1 << 20):
        n += len(chunk)
    return n


def _token() -> str:
    # 8 hex digits, as uuid4().hex[:8] gave; uuid itself imports platform (~10 ms).
    return os.urandom(4).hex()


def _pid_of(name: str, prefix: str) -> int | None:
    if not name.startswith(prefix):
        return None
    head = name[len(prefix):].split("-", 1)[0]
    return int(head) if head.isdigit() else None
