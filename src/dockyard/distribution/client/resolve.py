"""Reference → manifest: content negotiation, size cap, digest checks.

``GET /v2/<name>/manifests/<tag|digest>`` with an ``Accept`` listing the OCI
and Docker manifest and index types. The answer is capped at 4 MiB (the
spec's limit), parsed by its ``Content-Type`` (or its own ``mediaType``),
and its digest checked: against the digest asked for, and against the
registry's ``Docker-Content-Digest`` when it sends one. A registry that
lies about either is refused with ``VerificationFailedError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest, parse_digest
from dockyard.oci.errors import InvalidSpecError, UnknownMediaTypeError
from dockyard.oci.image import (
    Descriptor,
    Index,
    Manifest,
    check_image_manifest,
    load_manifest_or_index,
)

from .errors import InvalidManifestError, RegistryUnreachableError, VerificationFailedError
from .transport import Repository, raise_for

MAX_MANIFEST = 4 << 20
ACCEPT = ", ".join([mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST])


@dataclass(frozen=True)
class Resolved:
    descriptor: Descriptor
    data: bytes
    node: Manifest | Index


def fetch_manifest(repo: Repository, reference: str, *, media_type: str | None = None) -> Resolved:
    """The manifest or index ``reference`` (a tag or a digest) names, verified."""
    want = parse_digest(reference) if ":" in reference else None
    what = f"manifest for {repo.name}:{reference}" if want is None else f"manifest {repo.name}@{reference}"
    r = repo.send("GET", repo.url(f"manifests/{reference}"), headers={"Accept": ACCEPT},
                  stream=True, what=what)
    try:
        raise_for(r, what)
        data = bytearray()
        try:
            for chunk in r.iter_raw():
                data += chunk
                if len(data) > MAX_MANIFEST:
                    raise InvalidManifestError(f"{what}: larger than the 4 MiB manifest limit")
        except httpx.TransportError as e:
            raise RegistryUnreachableError(f"{what}: {e}") from e
    finally:
        r.close()
    body = bytes(data)
    ctype = r.headers.get("Content-Type", "").split(";")[0].strip() or None
    algorithm = want.algorithm if want is not None else "sha256"
    got = Digest.from_bytes(body, algorithm)
    if want is not None and got != want:
        raise VerificationFailedError(f"{what}: the registry sent content with digest {got}")
    header = r.headers.get("Docker-Content-Digest")
    if header and want is None and header.startswith(algorithm + ":") and header != got:
        raise VerificationFailedError(
            f"{what}: Docker-Content-Digest says {header} but the content is {got}")
    if ctype not in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
        ctype = media_type if media_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES else None
    try:
        node = load_manifest_or_index(body, ctype)
        if isinstance(node, Manifest):
            check_image_manifest(node)
    except (UnknownMediaTypeError, InvalidSpecError, ValueError) as e:
        raise InvalidManifestError(f"{what}: {e}") from None
    media = ctype or node.media_type or (mt.OCI_INDEX if isinstance(node, Index) else mt.OCI_MANIFEST)
    return Resolved(Descriptor(media_type=media, digest=got, size=len(body)), body, node)


def list_tags(repo: Repository) -> list[str]:
    """Every tag of the repository, following ``Link`` pagination."""
    tags: list[str] = []
    url: str | None = repo.url("tags/list")
    for _ in range(10000):
        if url is None:
            break
        r = repo.send("GET", url, what=f"tags of {repo.name}")
        raise_for(r, f"tags of {repo.name}")
        tags += list(r.json().get("tags") or [])
        link = r.headers.get("Link", "")
        url = link.split(";")[0].strip().strip("<>") if 'rel="next"' in link else None
    return tags
