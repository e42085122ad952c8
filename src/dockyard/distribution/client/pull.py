"""``docker pull``: a reference → verified blobs → a registered image.

Order of work, and why a pull killed at any point leaves the store whole:

1. resolve the reference on the first registry that answers (docker.io's
   mirrors first), by tag or digest, with content negotiation (``resolve``);
2. an index is narrowed to one platform (``--platform``, default the image
   service's, linux/amd64 here) with ``oci.image.select_platform``;
3. under a lease (so no GC takes them), the manifest(s), then the config
   and every layer IN PARALLEL (``max_concurrent_downloads``), each fetched
   by ``blobs.fetch_blob``: skipped when present, verified, resumed;
4. only when every blob is in the store, ``ImageService.register`` adds the
   image and its name in one transaction; then the lease goes.

Before 4 the image does not exist; the blobs already committed are kept
by nothing but the lease (removed with it by ``ImageService.cleanup`` when
the process died) and partial ingests wait for the next pull to resume.

Blobs get containerd's ``containerd.io/distribution.source.<host>`` label
naming the repositories they came from: ``push`` mounts from those.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, CancelledError, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from dockyard.distribution.errors import DistributionError
from dockyard.oci import mediatypes as mt
from dockyard.oci.errors import NoMatchingPlatformError
from dockyard.oci.image import (
    Descriptor,
    Index,
    Manifest,
    Platform,
    format_platform,
    parse_platform,
    select_platform,
)

from .blobs import fetch_blob
from .config import RegistryOptions, auth_key
from .credentials import ConfigFile, Credentials
from .errors import (
    ClientError,
    InvalidManifestError,
    InvalidReferenceFormatError,
    RegistryUnreachableError,
)
from .progress import Callback, Progress
from .resolve import Resolved, fetch_manifest, list_tags
from .transport import Repository, open_repository

if TYPE_CHECKING:
    from dockyard.images import ImageService
    from dockyard.images.model import Image
    from dockyard.images.reference import Reference

LABEL_SOURCE = "containerd.io/distribution.source"  # .<host> = repo,repo


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    from dockyard.images.errors import InvalidReferenceError
    from dockyard.images.reference import parse

    try:
        return parse(text, default_tag=default_tag)
    except InvalidReferenceError as e:
        raise InvalidReferenceFormatError(str(e)) from None


def credentials_for(host: str, config: ConfigFile | None, auth: Credentials | None = None) -> Credentials:
    """``auth`` when given (the API's ``X-Registry-Auth``), else config.json's for ``host``."""
    if auth is not None:
        return auth
    if config is None:
        return Credentials()
    return config.get(auth_key(host))


def pull(svc: ImageService, ref: str, *, platform: Platform | str | None = None,
         all_tags: bool = False, options: RegistryOptions | None = None,
         config: ConfigFile | None = None, auth: Credentials | None = None,
         progress: Callback | None = None) -> list[Image]:
    """Pull ``ref`` into ``svc``; returns the images registered (several with ``all_tags``).

    Credentials: ``auth`` if given (what the engine decodes from
    ``X-Registry-Auth``), else ``config``'s (Docker's config.json), else none.

    Raises ``distribution.errors`` (the registry's answers) and
    ``client.errors`` (``VerificationFailedError``, ``RegistryUnreachableError``…).
    """
    options = options or RegistryOptions()
    out = Progress(progress)
    if all_tags:
        named = parse_reference(ref, default_tag=False)
        if named.tag is not None or named.digest is not None:
            raise InvalidReferenceFormatError("tag can't be used with --all-tags/-a")
    else:
        named = parse_reference(ref)
    want = parse_platform(platform) if isinstance(platform, str) else platform
    errors: list[str] = []
    for group in options.endpoints(named.domain):
        mirror = group[0].mirror
        creds = credentials_for(named.domain if not mirror else group[0].host, config,
                                None if mirror else auth)
        try:
            repo = open_repository(group, named.path, options, creds)
        except ClientError as e:
            if not mirror:
                raise RegistryUnreachableError("; ".join([*errors, str(e)])) from None
            errors.append(f"mirror {group[0].url}: {e}")
            continue
        try:
            if all_tags:
                tags = sorted(list_tags(repo))
                return [_pull_one(svc, repo, named.with_tag(t), want, options, out) for t in tags]
            return [_pull_one(svc, repo, named, want, options, out)]
        except DistributionError as e:
            if not mirror:
                raise
            errors.append(f"mirror {group[0].url}: {e}")  # Docker falls back to the next
        finally:
            repo.close()
    raise RegistryUnreachableError("; ".join(errors) or f"no registry to pull {named} from")


def _pull_one(svc: ImageService, repo: Repository, named: Reference, platform: Platform | None,
              options: RegistryOptions, out: Progress) -> Image:
    reference = named.digest or named.tag or "latest"
    out.status(f"Pulling from {repo.name}", id=reference)
    root = fetch_manifest(repo, reference)
    before = _current_target(svc, named)
    lease = svc.new_lease()
    source = {f"{LABEL_SOURCE}.{named.domain}": repo.name}
    try:
        manifest_r = root
        if isinstance(root.node, Index):
            wanted = platform or svc.platform
            try:
                child = select_platform(root.node, wanted)
            except NoMatchingPlatformError as e:
                raise InvalidManifestError(f"{named}: {e}") from None
            manifest_r = fetch_manifest(repo, child.digest, media_type=child.media_type)
            if not isinstance(manifest_r.node, Manifest):
                raise InvalidManifestError(f"{named}: nested index {child.digest} for {format_platform(wanted)}")
        manifest = manifest_r.node
        assert isinstance(manifest, Manifest)
        fresh = list(dict.fromkeys(d.digest for d in manifest.layers if not svc.content.exists(d.digest)))
        _fetch_all(svc, repo, manifest, lease, options, out, source)
        # Manifests last: the store never holds a manifest whose blobs it lacks.
        for r in {manifest_r.descriptor.digest: manifest_r, root.descriptor.digest: root}.values():
            svc.write_blob(r.data, lease=lease, expected=r.descriptor.digest, size=r.descriptor.size)
        target = _target(svc, root, manifest_r)
        name = str(named) if named.digest is None else str(named.repository().with_digest(named.digest))
        image = svc.register(target, [name])
        for digest in fresh:
            out.layer("Pull complete", digest)
    finally:
        try:
            svc.content.delete_lease(lease)
        except Exception:  # the lease is cleaned up later anyway
            pass
    out.status(f"Digest: {root.descriptor.digest}")
    shown = named.familiar()
    if before == target.digest:
        out.status(f"Status: Image is up to date for {shown}")
    else:
        out.status(f"Status: Downloaded newer image for {shown}")
    return image


def _target(svc: ImageService, root: Resolved, manifest_r: Resolved) -> Descriptor:
    """The index when it serves the service's own platform (as containerd
    keeps it), else the platform's manifest (the service's ``register``
    checks the image through its own platform)."""
    if isinstance(root.node, Index):
        try:
            if select_platform(root.node, svc.platform).digest == manifest_r.descriptor.digest:
                return root.descriptor
        except NoMatchingPlatformError:
            pass
        return manifest_r.descriptor
    return root.descriptor


def _current_target(svc: ImageService, named: Reference) -> str | None:
    from dockyard.images.errors import ImageError

    try:
        return svc.resolve(str(named)).target.digest
    except ImageError:
        return None


def _fetch_all(svc: ImageService, repo: Repository, manifest: Manifest, lease: str,
               options: RegistryOptions, out: Progress, labels: dict[str, str]) -> None:
    content = svc.content
    jobs: list[tuple[Descriptor, bool]] = [(manifest.config, False)]
    for layer in manifest.layers:
        if not mt.is_distributable(layer.media_type) and layer.urls:
            raise InvalidManifestError(f"layer {layer.digest}: foreign layers are not supported")
        jobs.append((layer, True))
    seen: set[str] = set()
    todo: list[tuple[Descriptor, bool]] = []
    for desc, is_layer in jobs:
        if desc.digest in seen:
            continue
        seen.add(desc.digest)
        if is_layer:
            if content.exists(desc.digest):
                out.layer("Already exists", desc.digest)
            else:
                out.layer("Pulling fs layer", desc.digest)
        todo.append((desc, is_layer))
    # As dockerd: layers beyond the download slots say they wait (the
    # config takes a slot too).
    queued = [d for d, is_layer in todo if is_layer and not content.exists(d.digest)]
    for desc in queued[max(0, options.max_concurrent_downloads - 1):]:
        out.layer("Waiting", desc.digest)
    cancel = threading.Event()
    with ThreadPoolExecutor(max(1, options.max_concurrent_downloads),
                            thread_name_prefix="pull") as pool:
        futures: list[Future[None]] = []
        try:
            for desc, is_layer in todo:
                futures.append(pool.submit(fetch_blob, repo, content, desc, lease, out,
                                           retries=options.retries, show=is_layer, cancel=cancel,
                                           labels=_merge_source(content, desc.digest, labels)))
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            # First failure (or Ctrl-C here): the other downloads stop at
            # their next chunk instead of running to the end.
            cancel.set()
            for f in futures:
                f.cancel()
        errors = [f.exception() for f in futures if f.done() and not f.cancelled()]
        failed = [e for e in errors if e is not None and not isinstance(e, CancelledError)]
        if failed:
            raise failed[0]


def _merge_source(content: object, digest: str, labels: dict[str, str]) -> dict[str, str]:
    """Add this repository to the blob's source label (containerd keeps a list)."""
    from dockyard.content import errors as content_errors

    out = dict(labels)
    try:
        have = content.info(digest).labels  # type: ignore[attr-defined]
    except content_errors.NotFoundError:
        return out
    for key, repo in labels.items():
        old = [r for r in have.get(key, "").split(",") if r]
        if repo not in old:
            old.append(repo)
        out[key] = ",".join(old)
    return out
