"""``docker push``: the local image's blobs, then its manifest, by tag.

For each blob (config and layers, in parallel up to
``max_concurrent_uploads``), Docker's order:

1. ``HEAD /v2/<name>/blobs/<digest>``: 200 means the registry has it
   ("Layer already exists"), nothing is sent;
2. a cross-repository mount when the blob is known to have come from (or
   gone to) another repository of the same registry — the
   ``containerd.io/distribution.source.<host>`` label — ``POST
   …/blobs/uploads/?mount=<digest>&from=<repo>``: 201 is done ("Mounted
   from …"); 202 is a fresh upload session (the registry declined);
3. otherwise an upload: ``POST …/blobs/uploads/`` → ``Location``, then one
   ``PUT Location?digest=`` with the whole blob (monolithic, the default)
   or ``PATCH`` chunks with ``Content-Range`` and a closing ``PUT``
   (``RegistryOptions.chunk_size``).

The manifest goes last (``PUT /v2/<name>/manifests/<tag>``), when the
registry holds every blob it names. The image's manifest for the service's
platform is what is pushed, unless the image is a multi-platform index whose
every manifest is here with all its blobs: then all of them go, by digest,
and the index by tag (as containerd's image store pushes).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from dockyard.distribution.errors import DistributionError
from dockyard.oci import mediatypes as mt
from dockyard.oci.image import Descriptor, Manifest, load_index, load_manifest

from .config import RegistryOptions
from .credentials import ConfigFile, Credentials
from .errors import InvalidReferenceFormatError
from .progress import Callback, Progress
from .pull import LABEL_SOURCE, credentials_for, parse_reference
from .transport import Repository, open_repository, raise_for

if TYPE_CHECKING:
    from dockyard.content import ContentStore
    from dockyard.images import ImageService
    from dockyard.images.model import Image

_CHUNK = 1 << 20


def push(svc: ImageService, ref: str, *, options: RegistryOptions | None = None,
         config: ConfigFile | None = None, auth: Credentials | None = None,
         progress: Callback | None = None) -> Descriptor:
    """Push the local image ``ref`` to its registry; returns the root manifest's
    (or index's) descriptor. Credentials as for ``pull``."""
    from dockyard.images.errors import ImageNotFoundError

    options = options or RegistryOptions()
    out = Progress(progress)
    named = parse_reference(ref)
    if named.digest is not None:
        raise InvalidReferenceFormatError(f"cannot push a digest reference ({ref!r}): push a tag")
    try:
        image = svc.get(str(named))
    except ImageNotFoundError:
        raise ImageNotFoundError(f"An image does not exist locally with the tag: {named.familiar_name()}") from None
    out.status(f"The push refers to repository [{named.name}]")
    root, children = _what_to_push(svc, image)
    source_key = f"{LABEL_SOURCE}.{named.domain}"
    configs = {m.config.digest for _, m in children}
    blobs: dict[str, Descriptor] = {}
    for _, m in children:
        for d in (m.config, *m.layers):
            blobs.setdefault(d.digest, d)
    sources: dict[str, list[str]] = {}
    for digest in blobs:
        have = svc.content.info(digest).labels.get(source_key, "")
        sources[digest] = [r for r in have.split(",") if r and r != named.path]
    extra = sorted({f"repository:{r}:pull" for rs in sources.values() for r in rs})
    group = options.endpoints(named.domain, for_pull=False)[-1]
    repo = open_repository(group, named.path, options, credentials_for(named.domain, config, auth),
                           actions=("pull", "push"), extra_scopes=extra)
    tag = named.tag or "latest"
    try:
        for digest in blobs:
            if digest not in configs:
                out.layer("Preparing", digest)
        with ThreadPoolExecutor(max(1, options.max_concurrent_uploads), thread_name_prefix="push") as pool:
            futures = [pool.submit(_push_blob, repo, svc.content, d, sources[d.digest], options, out,
                                   d.digest not in configs)
                       for d in blobs.values()]
            wait(futures, return_when=FIRST_EXCEPTION)
            for f in futures:
                f.cancel()
            for f in futures:
                if f.done() and not f.cancelled() and f.exception() is not None:
                    raise f.exception()  # type: ignore[misc]
        # Manifests after their blobs, the index (by tag) after its manifests.
        for desc, _ in children:
            if desc.digest != root.digest:
                _put_manifest(repo, svc, desc, desc.digest, f"manifest {named.name}@{desc.digest}")
        _put_manifest(repo, svc, root, tag, f"manifest {named.familiar()}")
    finally:
        repo.close()
    for digest in blobs:  # later pushes to other repositories mount from this one
        info = svc.content.info(digest)
        repos = [r for r in info.labels.get(source_key, "").split(",") if r]
        if named.path not in repos:
            svc.content.update_labels(digest, {source_key: ",".join([*repos, named.path])})
    out.status(f"{tag}: digest: {root.digest} size: {root.size}")
    out.emit({"progressDetail": {}, "aux": {"Tag": tag, "Digest": root.digest, "Size": root.size}})
    return root


def _what_to_push(svc: ImageService, image: Image) -> tuple[Descriptor, list[tuple[Descriptor, Manifest]]]:
    """The root to tag and the manifests under it: the whole index when every
    manifest it lists is here with all its blobs, else the platform's manifest."""
    target = image.record.target
    if mt.is_index(target.media_type):
        index = load_index(svc.content.read(target.digest))
        children: list[tuple[Descriptor, Manifest]] = []
        for d in index.manifests:
            if not mt.is_manifest(d.media_type) or not svc.content.exists(d.digest):
                break
            m = load_manifest(svc.content.read(d.digest), artifacts=True)
            if not all(svc.content.exists(b.digest) for b in (m.config, *m.layers)):
                break
            children.append((d, m))
        else:
            root = Descriptor(media_type=target.media_type, digest=target.digest, size=target.size)
            return root, children
    return image.manifest_descriptor, [(image.manifest_descriptor, image.manifest)]


def _put_manifest(repo: Repository, svc: ImageService, desc: Descriptor, reference: str, what: str) -> None:
    r = repo.send("PUT", repo.url(f"manifests/{reference}"), headers={"Content-Type": desc.media_type},
                  content=svc.content.read(desc.digest), what=what)
    raise_for(r, what)
    got = r.headers.get("Docker-Content-Digest")
    if got and got != desc.digest:
        raise DistributionError(f"{what}: the registry stored {got}, we sent {desc.digest}")


def _push_blob(repo: Repository, content: ContentStore, desc: Descriptor, sources: list[str],
               options: RegistryOptions, out: Progress, show: bool) -> None:
    what = f"blob {desc.digest}"
    r = repo.send("HEAD", repo.url(f"blobs/{desc.digest}"), what=what)
    if r.status_code == 200:
        if show:
            out.layer("Layer already exists", desc.digest)
        return
    if r.status_code != 404:
        raise_for(r, what)
    location = None
    for src in sources:
        r = repo.send("POST", repo.url("blobs/uploads/"), params={"mount": desc.digest, "from": src},
                      what=what)
        if r.status_code == 201:
            if show:
                out.layer(f"Mounted from {src}", desc.digest)
            return
        raise_for(r, what)
        location = r.headers.get("Location")
        break
    if location is None:
        r = repo.send("POST", repo.url("blobs/uploads/"), what=what)
        raise_for(r, what)
        location = r.headers.get("Location")
    if not location:
        raise DistributionError(f"{what}: the registry started an upload without a Location")
    if options.chunk_size > 0 and desc.size > options.chunk_size:
        offset = 0
        while offset < desc.size:
            n = min(options.chunk_size, desc.size - offset)
            data = content.read(desc.digest, offset, n)
            r = repo.send("PATCH", location, content=data, what=what, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + n - 1}", "Content-Length": str(n)})
            raise_for(r, what)
            location = r.headers.get("Location") or location
            offset += n
            if show:
                out.bytes("Pushing", desc.digest, offset, desc.size)
        r = repo.send("PUT", with_digest(location, desc.digest), content=b"", what=what)
    else:
        r = repo.send("PUT", with_digest(location, desc.digest), what=what,
                      content=_reader(content, desc, out, show),
                      headers={"Content-Type": "application/octet-stream",
                               "Content-Length": str(desc.size)})
    raise_for(r, what)
    if show:
        out.layer("Pushed", desc.digest)


def with_digest(location: str, digest: str) -> str:
    """``Location`` plus ``digest=``, keeping its own query (distribution's
    ``_state``): httpx's ``params=`` would replace that query, not extend it."""
    return f"{location}{'&' if '?' in location else '?'}{urlencode({'digest': digest})}"


def _reader(content: ContentStore, desc: Descriptor, out: Progress, show: bool) -> Iterator[bytes]:
    done = 0
    with content.open(desc.digest) as f:
        while chunk := f.read(_CHUNK):
            done += len(chunk)
            if show:
                out.bytes("Pushing", desc.digest, done, desc.size)
            yield chunk
