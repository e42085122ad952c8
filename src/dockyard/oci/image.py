"""OCI image-spec types: descriptor, platform, manifest, index, image config.

Field names are the spec's (https://github.com/opencontainers/image-spec:
descriptor.md, manifest.md, image-index.md, config.md). Python attributes
are snake_case; each struct maps them to the wire spelling:

- descriptor, manifest, index: camelCase (``mediaType``, ``schemaVersion``,
  ``artifactType``), plus the dotted ``os.version`` / ``os.features``;
- the image config: lowercase with underscores (``diff_ids``,
  ``created_by``, ``empty_layer``) at the top, but Go-style capitalised keys
  inside ``config`` (``Cmd``, ``Env``, ``ExposedPorts``), as Docker writes
  them and as the spec copied them.

Docker's v2 schema 2 manifest and manifest list have the same shapes as the
OCI manifest and index; one struct serves both families and ``mediaType``
tells them apart (see ``mediatypes``).

Loaders (``load_manifest``, ``load_index``, ``load_image_config``,
``load_descriptor``, ``load_manifest_or_index``) raise ``InvalidSpecError``
naming the exact bad field: ``manifest: $.layers[1].digest: unsupported
digest algorithm 'md5' ...``. Unknown fields are ignored, as the spec asks;
so never re-encode a document you loaded to compute its digest: the
digest is of the stored bytes.

Platforms: ``normalize_platform`` applies containerd's normalisation
(``x86_64`` → ``amd64``, ``aarch64`` → ``arm64``, arm64's ``v8`` is its
default variant, ``armhf`` → ``arm/v7``), and ``select_platform(index,
wanted)`` picks the best manifest of an index for a platform, with the
compatible fallbacks containerd allows (``arm64`` runs ``arm/v7``,
``amd64/v3`` runs ``amd64/v2``).
"""

from __future__ import annotations

import os as _os
import re
from typing import Annotated, Any, Final, TypeVar

import msgspec

from . import mediatypes as mt
from .digest import Digest, parse_digest
from .errors import (
    DigestMismatchError,
    InvalidDigestError,
    InvalidSpecError,
    NoMatchingPlatformError,
    UnknownMediaTypeError,
)

# --- well-known annotations ------------------------------------------------------

ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED: Final = "org.opencontainers.image.created"
ANNOTATION_BASE_NAME: Final = "org.opencontainers.image.base.name"
ANNOTATION_BASE_DIGEST: Final = "org.opencontainers.image.base.digest"
# containerd's and Docker's: the full image name in an OCI layout's index.json.
ANNOTATION_IMAGE_NAME: Final = "io.containerd.image.name"
# BuildKit marks provenance/SBOM manifests this way in an index; they are not images.
ANNOTATION_REFERENCE_TYPE: Final = "vnd.docker.reference.type"

Size = Annotated[int, msgspec.Meta(ge=0)]


class _Camel(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    pass


class _Plain(msgspec.Struct, omit_defaults=True, kw_only=True):
    pass


class _Pascal(msgspec.Struct, rename="pascal", omit_defaults=True, kw_only=True):
    pass


class Empty(msgspec.Struct):
    """The ``{}`` values of ``ExposedPorts`` and ``Volumes`` (Go's ``struct{}``)."""


# --- descriptor and platform ------------------------------------------------------------


class Platform(_Camel, kw_only=True):
    architecture: str
    os: str
    os_version: str | None = msgspec.field(default=None, name="os.version")
    os_features: list[str] | None = msgspec.field(default=None, name="os.features")
    variant: str | None = None
    features: list[str] | None = None

    def __str__(self) -> str:
        return format_platform(self)


class Descriptor(_Camel, kw_only=True):
    """A typed reference to content: media type, digest and size (descriptor.md).

    ``digest`` is stored as a plain ``str`` (validated on construction and on
    decode) because msgspec only encodes exact strings; ``Digest.parse(d.digest)``
    gives the parsed form, or use ``d.parsed_digest``.
    """

    media_type: str
    digest: str
    size: Size
    urls: list[str] | None = None
    annotations: dict[str, str] | None = None
    data: bytes | None = None
    artifact_type: str | None = None
    platform: Platform | None = None

    def __post_init__(self) -> None:
        if not mt.is_valid(self.media_type):
            raise ValueError(f"mediaType: invalid media type {self.media_type!r}")
        try:
            self.digest = str(parse_digest(self.digest))
        except InvalidDigestError as e:
            raise ValueError(f"digest: {e}") from None
        if self.data is not None:
            # Embedded data must be exactly the content the descriptor names.
            if len(self.data) != self.size:
                raise ValueError(
                    f"data: embedded data is {len(self.data)} bytes but size is {self.size}"
                )
            actual = Digest.from_bytes(self.data, Digest(self.digest).algorithm)
            if actual != self.digest:
                raise ValueError(f"data: embedded data has digest {actual}, not {self.digest}")
        if self.artifact_type is not None and not mt.is_valid(self.artifact_type):
            raise ValueError(f"artifactType: invalid media type {self.artifact_type!r}")

    @property
    def parsed_digest(self) -> Digest:
        return Digest(self.digest)

    @classmethod
    def of(cls, media_type: str, data: bytes, **fields: Any) -> Descriptor:
        """The descriptor of ``data`` (sha256), e.g. ``Descriptor.of(OCI_CONFIG, blob)``."""
        return cls(media_type=media_type, digest=Digest.from_bytes(data), size=len(data), **fields)


EMPTY_DESCRIPTOR: Final = Descriptor(
    media_type=mt.OCI_EMPTY, digest=mt.EMPTY_JSON_DIGEST, size=mt.EMPTY_JSON_SIZE
)


# --- manifest and index ---------------------------------------------------------------


def _check_schema_version(value: int) -> None:
    if value != 2:
        raise ValueError(f"schemaVersion: unsupported schema version {value}, expected 2")


class Manifest(_Camel, kw_only=True):
    """An image manifest: OCI ``image.manifest.v1`` or Docker v2 schema 2."""

    schema_version: int
    media_type: str | None = None
    artifact_type: str | None = None
    config: Descriptor
    layers: list[Descriptor] = msgspec.field(default_factory=list)
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None

    def __post_init__(self) -> None:
        _check_schema_version(self.schema_version)

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST


class Index(_Camel, kw_only=True):
    """An image index: OCI ``image.index.v1`` or Docker's manifest list."""

    schema_version: int
    media_type: str | None = None
    artifact_type: str | None = None
    manifests: list[Descriptor] = msgspec.field(default_factory=list)
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None

    def __post_init__(self) -> None:
        _check_schema_version(self.schema_version)

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST_LIST


# --- image config ------------------------------------------------------------------------


class HealthConfig(_Pascal):
    """Docker's ``Healthcheck`` (durations in nanoseconds, as Docker writes them)."""

    test: list[str] | None = None
    interval: int | None = None
    timeout: int | None = None
    start_period: int | None = None
    start_interval: int | None = None
    retries: int | None = None


class ContainerConfig(_Pascal):
    """The ``config`` object of an image config: defaults for a container.

    Keys are Go-style capitalised (``Cmd``, ``Env``, ``WorkingDir``). Docker
    writes ``null`` for empty lists and maps; both spellings load.
    """

    user: str | None = None
    exposed_ports: dict[str, Empty] | None = None
    env: list[str] | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    volumes: dict[str, Empty] | None = None
    working_dir: str | None = None
    labels: dict[str, str] | None = None
    stop_signal: str | None = None
    healthcheck: HealthConfig | None = None
    args_escaped: bool | None = None
    on_build: list[str] | None = None
    shell: list[str] | None = None


class RootFS(msgspec.Struct, kw_only=True):
    # Not omit_defaults: Docker always writes "type", and readers (skopeo)
    # treat a missing one as "".
    type: str = "layers"
    diff_ids: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.type != "layers":
            raise ValueError(f"type: rootfs type {self.type!r} is not supported, expected 'layers'")
        for i, d in enumerate(self.diff_ids):
            try:
                self.diff_ids[i] = str(parse_digest(d))
            except InvalidDigestError as e:
                raise ValueError(f"diff_ids[{i}]: {e}") from None


class History(_Plain):
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool | None = None


class ImageConfig(_Plain, kw_only=True):
    """The image config JSON (``application/vnd.oci.image.config.v1+json`` /
    ``application/vnd.docker.container.image.v1+json``).

    Its digest is the image id Docker shows. Docker adds ``docker_version``
    and ``comment``; both are kept so a config we write reads like Docker's.
    """

    created: str | None = None
    author: str | None = None
    architecture: str
    os: str
    os_version: str | None = msgspec.field(default=None, name="os.version")
    os_features: list[str] | None = msgspec.field(default=None, name="os.features")
    variant: str | None = None
    config: ContainerConfig | None = None
    rootfs: RootFS
    history: list[History] | None = None
    comment: str | None = None
    docker_version: str | None = None

    @property
    def platform(self) -> Platform:
        return Platform(
            architecture=self.architecture,
            os=self.os,
            os_version=self.os_version,
            os_features=self.os_features,
            variant=self.variant,
        )


class LayoutHeader(msgspec.Struct, rename="camel"):
    """``oci-layout`` at the root of an OCI image layout."""

    image_layout_version: str = "1.0.0"


# --- codecs --------------------------------------------------------------------------------

_T = TypeVar("_T")
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()
# "msg - at `$.path`", where msg may start with "field: " from a __post_init__.
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_FIELD = re.compile(r"^(?P<field>[A-Za-z_][\w.\[\]]*): (?P<rest>.*)$", re.S)


def _where(message: str) -> str:
    """Turn msgspec's ``msg - at `$.a[0]``` into ``$.a[0].field: msg``."""
    m = _AT.match(message)
    assert m is not None
    msg, path = m["msg"], m["path"] or "$"
    f = _FIELD.match(msg)
    if f:
        sep = "" if f["field"].startswith("[") else "."
        return f"{path}{sep}{f['field']}: {f['rest']}"
    return f"{path}: {msg}"


def _decode(data: bytes | str, kind: type[_T], what: str) -> _T:
    dec = _decoders.get(kind)
    if dec is None:
        dec = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        result: _T = dec.decode(data)
    except msgspec.ValidationError as e:
        if kind in (Manifest, Index):
            _refuse_other_schema(data, what)
        raise InvalidSpecError(f"{what}: {_where(str(e))}") from None
    except msgspec.DecodeError as e:
        raise InvalidSpecError(f"{what}: malformed JSON: {e}") from None
    return result


class _SchemaSniff(msgspec.Struct, rename="camel"):
    schema_version: Any = None
    media_type: Any = None


def _refuse_other_schema(data: bytes | str, what: str) -> None:
    """Name the real problem when a schema 1 (or 3...) document fails to decode:
    its shape differs entirely, and "missing field config" would mislead."""
    try:
        head = msgspec.json.decode(data, type=_SchemaSniff)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return
    if head.media_type in mt.SCHEMA1_TYPES or head.schema_version == 1:
        # A schema 1 manifest: mediaType names it, or only schemaVersion does.
        shown = head.media_type if head.media_type in mt.SCHEMA1_TYPES else mt.DOCKER_SCHEMA1_MANIFEST
        mt.require(shown, frozenset(), f"{what}: $.mediaType")
    if isinstance(head.schema_version, int) and head.schema_version != 2:
        raise InvalidSpecError(
            f"{what}: $.schemaVersion: unsupported schema version {head.schema_version!r}, "
            f"expected 2"
        )


def _check_types(what: str, where: str, value: str | None, allowed: frozenset[str]) -> None:
    mt.require(value, allowed, f"{what}: {where}")


def load_descriptor(data: bytes | str) -> Descriptor:
    return _decode(data, Descriptor, "descriptor")


def load_manifest(data: bytes | str, *, artifacts: bool = False) -> Manifest:
    """Parse an image manifest (OCI or Docker v2 schema 2).

    ``mediaType``, when present, must be a manifest type (Docker's always
    has it; OCI's may leave it out). Unless ``artifacts`` is true, the
    config must be an image config and every layer a known layer type, so
    that what loads can be unpacked and run; artifacts (Helm charts,
    signatures) carry other types and are loaded with ``artifacts=True``.
    """
    m = _decode(data, Manifest, "manifest")
    if m.media_type is not None:
        _check_types("manifest", "$.mediaType", m.media_type, mt.MANIFEST_TYPES)
    if not artifacts:
        check_image_manifest(m)
    return m


def check_image_manifest(m: Manifest) -> None:
    """Refuse a manifest whose config or layers are not image types."""
    _check_types("manifest", "$.config.mediaType", m.config.media_type, mt.CONFIG_TYPES)
    for i, layer in enumerate(m.layers):
        _check_types("manifest", f"$.layers[{i}].mediaType", layer.media_type, mt.LAYER_TYPES)


def load_index(data: bytes | str) -> Index:
    """Parse an image index or Docker manifest list."""
    idx = _decode(data, Index, "index")
    if idx.media_type is not None:
        _check_types("index", "$.mediaType", idx.media_type, mt.INDEX_TYPES)
    return idx


def load_manifest_or_index(
    data: bytes | str, media_type: str | None = None, *, artifacts: bool = False
) -> Manifest | Index:
    """Parse either, going by ``media_type`` (e.g. a registry's Content-Type
    or a descriptor's) or else by the document's own ``mediaType`` and shape.
    """
    if media_type is None:
        head = _decode(data, _Sniff, "manifest")
        media_type = head.media_type
        if media_type is None:
            if head.manifests is not None:
                media_type = mt.OCI_INDEX
            elif head.config is not None:
                media_type = mt.OCI_MANIFEST
    allowed = mt.MANIFEST_TYPES | mt.INDEX_TYPES
    mt.require(media_type, allowed, "manifest: $.mediaType")
    if mt.is_index(media_type):
        idx = load_index(data)
        if idx.media_type not in (None, media_type):
            raise UnknownMediaTypeError(
                f"index: $.mediaType: {idx.media_type!r} does not match {media_type!r}",
                idx.media_type,
            )
        return idx
    m = load_manifest(data, artifacts=artifacts)
    if m.media_type not in (None, media_type):
        raise UnknownMediaTypeError(
            f"manifest: $.mediaType: {m.media_type!r} does not match {media_type!r}",
            m.media_type,
        )
    return m


class _Sniff(msgspec.Struct, rename="camel"):
    media_type: str | None = None
    manifests: list[Any] | None = None
    config: dict[str, Any] | None = None


def load_image_config(data: bytes | str) -> ImageConfig:
    """Parse an image config; ``architecture``, ``os`` and ``rootfs`` are required."""
    return _decode(data, ImageConfig, "image config")


def load_layout_header(data: bytes | str) -> LayoutHeader:
    h = _decode(data, LayoutHeader, "oci-layout")
    if h.image_layout_version.split(".", 1)[0] != "1":
        raise InvalidSpecError(
            f"oci-layout: $.imageLayoutVersion: unsupported version "
            f"{h.image_layout_version!r}, expected 1.x"
        )
    return h


def dump(obj: msgspec.Struct) -> bytes:
    """Compact JSON with the spec's field names; empty optional fields left out."""
    return _encoder.encode(obj)


def load_verified(data: bytes, desc: Descriptor) -> bytes:
    """Check ``data`` against ``desc``'s size and digest before trusting it."""
    if len(data) != desc.size:
        raise DigestMismatchError(
            desc.digest, f"{len(data)} bytes instead of {desc.size}", what=desc.media_type
        )
    got = Digest.from_bytes(data, Digest(desc.digest).algorithm)
    if got != desc.digest:
        raise DigestMismatchError(desc.digest, got, what=desc.media_type)
    return data


# --- platforms -----------------------------------------------------------------------------

_OS_ALIASES: Final = {"macos": "darwin"}
_KNOWN_OS: Final = frozenset(
    {"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos",
     "aix", "android", "ios", "plan9", "js", "wasip1", "dragonfly"}
)


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    if arch in ("i386", "i486", "i586", "i686", "x86"):
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        # "v1" is amd64's baseline: the same as no variant.
        return "amd64", "" if variant in ("", "v1") else variant
    if arch in ("aarch64", "arm64"):
        # containerd treats v8 as arm64's default: "linux/arm64" == "linux/arm64/v8".
        if variant in ("", "8", "v8", "v8.0"):
            return "arm64", ""
        if variant in ("9", "9.0", "v9.0"):
            return "arm64", "v9"
        return "arm64", variant if variant.startswith("v") else "v" + variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
        return "arm", variant
    return arch, variant


def normalize_platform(p: Platform) -> Platform:
    """containerd's ``platforms.Normalize``: canonical os, architecture, variant."""
    os_name = p.os.lower()
    os_name = _OS_ALIASES.get(os_name, os_name)
    arch, variant = _normalize_arch(p.architecture, p.variant or "")
    return Platform(
        architecture=arch,
        os=os_name,
        os_version=p.os_version,
        os_features=p.os_features,
        variant=variant or None,
        features=p.features,
    )


def format_platform(p: Platform) -> str:
    """``os/arch[/variant]``, as Docker prints it (``linux/arm64/v8`` stays as given)."""
    parts = [p.os or "unknown", p.architecture or "unknown"]
    if p.variant:
        parts.append(p.variant)
    return "/".join(parts)


def host_platform() -> Platform:
    """The platform of this machine (normalised)."""
    u = _os.uname()
    variant = ""
    machine = u.machine
    if machine.startswith("armv") and machine[4:5].isdigit():
        machine, variant = "arm", "v" + u.machine[4]
    return normalize_platform(Platform(architecture=machine, os=u.sysname.lower(), variant=variant or None))


_PLATFORM_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def parse_platform(spec: str) -> Platform:
    """Parse ``os[/arch[/variant]]`` or a bare ``arch`` (``--platform`` values).

    A lone known OS keeps this machine's architecture; a lone anything-else
    is an architecture on linux (containerd's ``platforms.Parse``).
    """
    parts = spec.split("/")
    if not spec or len(parts) > 3 or not all(_PLATFORM_PART.fullmatch(x) for x in parts):
        raise InvalidSpecError(
            f"invalid platform {spec!r}: expected os[/arch[/variant]], e.g. linux/arm64/v8"
        )
    if len(parts) == 1:
        word = parts[0].lower()
        if word in _KNOWN_OS or word in _OS_ALIASES:
            host = host_platform()
            return normalize_platform(
                Platform(os=word, architecture=host.architecture, variant=host.variant)
            )
        return normalize_platform(Platform(os="linux", architecture=word))
    variant = parts[2] if len(parts) == 3 else None
    return normalize_platform(Platform(os=parts[0], architecture=parts[1], variant=variant))


def _compatible(wanted: Platform) -> list[tuple[str, str, str]]:
    """(os, arch, variant) triples ``wanted`` can run, best first."""
    w = normalize_platform(wanted)
    os_name, arch, variant = w.os, w.architecture, w.variant or ""
    out = [(os_name, arch, variant)]
    if arch == "amd64":
        level = int(variant[1:]) if variant[1:].isdigit() else 1
        out += [(os_name, "amd64", f"v{n}") for n in range(level - 1, 1, -1)]
        if level > 1:
            out.append((os_name, "amd64", ""))
    elif arch == "arm64" and variant == "":
        out += [(os_name, "arm", v) for v in ("v8", "v7", "v6", "v5")]
    elif arch == "arm" and variant[1:].isdigit():
        out += [(os_name, "arm", f"v{n}") for n in range(int(variant[1:]) - 1, 4, -1)]
    return out


def platform_matches(wanted: Platform, have: Platform) -> bool:
    """True when an image for ``have`` runs on ``wanted`` (exact or compatible)."""
    h = normalize_platform(have)
    return (h.os, h.architecture, h.variant or "") in _compatible(wanted)


def select_platform(index: Index, wanted: Platform | str | None = None) -> Descriptor:
    """The best manifest of ``index`` for ``wanted`` (default: this machine).

    Exact matches win over compatible ones; among equals the first listed
    wins (as Docker does). Entries without a platform and BuildKit's
    attestation manifests (``unknown/unknown``) are never chosen. Raises
    ``NoMatchingPlatformError`` listing what the index has.
    """
    if wanted is None:
        want = host_platform()
    elif isinstance(wanted, str):
        want = parse_platform(wanted)
    else:
        want = wanted
    ranks = {triple: i for i, triple in enumerate(_compatible(want))}
    best: tuple[int, Descriptor] | None = None
    available: list[str] = []
    for desc in index.manifests:
        if desc.platform is None or not (mt.is_manifest(desc.media_type) or mt.is_index(desc.media_type)):
            continue
        if (desc.annotations or {}).get(ANNOTATION_REFERENCE_TYPE) == "attestation-manifest":
            continue
        available.append(format_platform(desc.platform))
        h = normalize_platform(desc.platform)
        rank = ranks.get((h.os, h.architecture, h.variant or ""))
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, desc)
    if best is None:
        raise NoMatchingPlatformError(format_platform(want), available)
    return best[1]
