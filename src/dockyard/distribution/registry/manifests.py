"""What the registry checks in a pushed manifest, and what it keeps of it.

``inspect(body, content_type)`` parses a manifest or index (OCI or Docker
v2 schema 2; artifacts with any config and layer types) and returns what
storage needs: the media type, the blobs and child manifests it references
(which must already be in the repository: MANIFEST_BLOB_UNKNOWN), the
``subject`` and ``artifactType`` the referrers API lists, and the content
store labels that make GC follow the manifest to its children.

The media type comes from ``Content-Type`` when that names a manifest
type; a generic or missing one falls back to the document's ``mediaType``
(or its shape). When both are given they must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from dockyard.content import LABEL_GC_REF_CONTENT
from dockyard.oci import mediatypes as mt
from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.image import Descriptor, Index, Manifest, load_manifest_or_index

from ..errors import ManifestInvalidError

MAX_MANIFEST_BYTES = 4 << 20  # the cap distribution and most registries apply

MANIFEST_MEDIA_TYPES = mt.MANIFEST_TYPES | mt.INDEX_TYPES


@dataclass(frozen=True)
class Inspected:
    media_type: str
    blobs: list[Descriptor]  # config and layers: must be blobs of the repository
    manifests: list[Descriptor]  # an index's entries: must be manifests of the repository
    subject: str | None
    artifact_type: str | None  # as the referrers API reports it
    annotations: dict[str, str] | None
    labels: dict[str, str] = field(default_factory=dict)


def content_type_of(header: str | None) -> str | None:
    """The bare media type of a Content-Type header (parameters dropped)."""
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def inspect(body: bytes, content_type: str | None) -> Inspected:
    ctype = content_type_of(content_type)
    given = ctype if ctype in MANIFEST_MEDIA_TYPES else None
    if ctype in mt.SCHEMA1_TYPES:
        given = ctype  # let load_manifest_or_index explain schema 1
    own = _own_media_type(body)
    if given is not None and own is not None and own != given:
        raise ManifestInvalidError(
            f"manifest: Content-Type {given} does not match the document's mediaType {own}",
            detail={"mediaType": own},
        )
    try:
        doc = load_manifest_or_index(body, given, artifacts=True)
    except InvalidSpecError as e:
        raise ManifestInvalidError(str(e), detail={"mediaType": ctype}) from None
    labels: dict[str, str] = {}
    if isinstance(doc, Manifest):
        media_type = given or doc.media_type or mt.OCI_MANIFEST
        blobs = [doc.config]
        # Foreign/nondistributable layers with URLs are fetched from elsewhere;
        # the registry does not hold them (as distribution skips them).
        blobs += [d for d in doc.layers if mt.is_distributable(d.media_type) or not d.urls]
        labels[f"{LABEL_GC_REF_CONTENT}.config"] = doc.config.digest
        for i, d in enumerate(blobs[1:]):
            labels[f"{LABEL_GC_REF_CONTENT}.l.{i}"] = d.digest
        artifact_type = doc.artifact_type or doc.config.media_type
        if media_type == mt.DOCKER_MANIFEST and doc.artifact_type:
            raise ManifestInvalidError(
                "manifest: $.artifactType: Docker v2 schema 2 manifests have no artifactType; "
                f"push it as {mt.OCI_MANIFEST}"
            )
        return Inspected(media_type, blobs, [], _subject(doc), artifact_type,
                         doc.annotations, labels)
    assert isinstance(doc, Index)
    media_type = given or doc.media_type or mt.OCI_INDEX
    for i, d in enumerate(doc.manifests):
        labels[f"{LABEL_GC_REF_CONTENT}.m.{i}"] = d.digest
    return Inspected(media_type, [], list(doc.manifests), _subject(doc), doc.artifact_type,
                     doc.annotations, labels)


class _Head(msgspec.Struct, rename="camel"):
    media_type: str | None = None


def _own_media_type(body: bytes) -> str | None:
    try:
        return msgspec.json.decode(body, type=_Head).media_type
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # the full parse reports it, with the path


def _subject(doc: Manifest | Index) -> str | None:
    return doc.subject.digest if doc.subject is not None else None
