"""Media types of the OCI image spec and of Docker's image manifest v2 schema 2.

Docker's types predate OCI's and mean the same shapes: a Docker manifest
list is an OCI index, a Docker v2 schema 2 manifest an OCI manifest, a
``container.image.v1`` config an OCI image config. Both families are
accepted everywhere; ``save`` writes whichever the format calls for.

Layers: OCI's ``tar``, ``tar+gzip``, ``tar+zstd`` (and the deprecated
"nondistributable" variants), Docker's ``rootfs.diff.tar.gzip`` (plus the
uncompressed and zstd spellings containerd also accepts) and its "foreign"
layers. Foreign/nondistributable layers are unpacked like any other but are
not pushed (their ``urls`` point elsewhere).

Docker's schema 1 manifests (signed, ``+prettyjws``) are recognised only to
be refused with a clear message: Docker itself stopped pulling them.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from .errors import UnknownMediaTypeError

# --- OCI (image-spec v1.1) ---------------------------------------------------

OCI_DESCRIPTOR: Final = "application/vnd.oci.descriptor.v1+json"
OCI_LAYOUT_HEADER: Final = "application/vnd.oci.layout.header.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP: Final = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
)
OCI_LAYER_NONDISTRIBUTABLE_ZSTD: Final = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
)
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
# The empty JSON object ``{}`` (image-spec manifest.md "Guidance for an Empty Descriptor").
EMPTY_JSON: Final = b"{}"
EMPTY_JSON_DIGEST: Final = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
EMPTY_JSON_SIZE: Final = 2

# --- Docker (image manifest v2 schema 2) ---------------------------------------

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD: Final = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_LAYER_FOREIGN: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_LAYER_FOREIGN_GZIP: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_PLUGIN_CONFIG: Final = "application/vnd.docker.plugin.v1+json"
DOCKER_SCHEMA1_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED: Final = "application/vnd.docker.distribution.manifest.v1+prettyjws"

# --- groups ------------------------------------------------------------------------

MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES: Final = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1_TYPES: Final = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED})

Compression = Literal["none", "gzip", "zstd"]

# media type -> (compression, distributable)
_LAYERS: Final[dict[str, tuple[Compression, bool]]] = {
    OCI_LAYER: ("none", True),
    OCI_LAYER_GZIP: ("gzip", True),
    OCI_LAYER_ZSTD: ("zstd", True),
    OCI_LAYER_NONDISTRIBUTABLE: ("none", False),
    OCI_LAYER_NONDISTRIBUTABLE_GZIP: ("gzip", False),
    OCI_LAYER_NONDISTRIBUTABLE_ZSTD: ("zstd", False),
    DOCKER_LAYER: ("none", True),
    DOCKER_LAYER_GZIP: ("gzip", True),
    DOCKER_LAYER_ZSTD: ("zstd", True),
    DOCKER_LAYER_FOREIGN: ("none", False),
    DOCKER_LAYER_FOREIGN_GZIP: ("gzip", False),
}
LAYER_TYPES: Final = frozenset(_LAYERS)

# RFC 6838 section 4.2, as the image spec's descriptor schema writes it.
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)


def is_valid(media_type: str) -> bool:
    """Syntax only (RFC 6838 ``type/subtype``); says nothing about support."""
    return _MEDIA_TYPE.fullmatch(media_type) is not None


def is_manifest(media_type: str | None) -> bool:
    return media_type in MANIFEST_TYPES


def is_index(media_type: str | None) -> bool:
    return media_type in INDEX_TYPES


def is_config(media_type: str | None) -> bool:
    return media_type in CONFIG_TYPES


def is_layer(media_type: str | None) -> bool:
    return media_type in _LAYERS


def is_distributable(media_type: str) -> bool:
    """False for Docker foreign and OCI nondistributable layers (not pushed)."""
    entry = _LAYERS.get(media_type)
    return entry[1] if entry else True


def layer_compression(media_type: str | None) -> Compression:
    """How a layer of this media type is compressed; refuses non-layers."""
    entry = _LAYERS.get(media_type or "")
    if entry is None:
        raise UnknownMediaTypeError(
            f"unknown layer media type {media_type!r}: expected one of "
            f"{', '.join(sorted(_LAYERS))}",
            media_type,
        )
    return entry[0]


def layer_media_type(compression: Compression, *, docker: bool = False) -> str:
    """The layer media type for a compression, in the OCI or Docker family."""
    if docker:
        return {"none": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP, "zstd": DOCKER_LAYER_ZSTD}[
            compression
        ]
    return {"none": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}[compression]


def require(media_type: str | None, allowed: frozenset[str], what: str) -> str:
    """Return ``media_type`` if it is one of ``allowed``; else a clear error.

    Schema 1 gets its own message, since that is the usual reason for an old
    image to fail.
    """
    if media_type in allowed:
        assert media_type is not None
        return media_type
    if media_type in SCHEMA1_TYPES:
        raise UnknownMediaTypeError(
            f"{what}: Docker image manifest schema 1 ({media_type}) is not supported; "
            f"push the image again with a current client to get schema 2",
            media_type,
        )
    shown = "missing" if media_type is None else repr(media_type)
    raise UnknownMediaTypeError(
        f"{what}: media type {shown} is not supported, expected one of "
        f"{', '.join(sorted(allowed))}",
        media_type,
    )
