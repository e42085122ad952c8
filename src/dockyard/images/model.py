"""An image as the service hands it out: its record, manifest and config.

``Image`` is what ``ImageService.get`` returns: the metadata row, the
platform manifest chosen from the target (the target itself when it is a
manifest), and the parsed image config. ``chain_ids`` are the snapshot
names its layers unpack to (image-spec config.md, "Layer ChainID")::

    ChainID(L0)     = DiffID(L0)
    ChainID(L0..n)  = sha256(ChainID(L0..n-1) + " " + DiffID(Ln))

so two images that start with the same layers share those snapshots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from dockyard.oci.image import Descriptor, ImageConfig, Manifest, dump

from .reference import Reference, parse
from .store import ImageRecord


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain ID of every prefix of ``diff_ids``."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


def dump_config(config: ImageConfig) -> bytes:
    """The config's JSON, with ``rootfs.type`` always written.

    ``oci.image.dump`` leaves out fields at their default, and ``"layers"``
    is ``RootFS.type``'s default; but the spec requires the field, and
    skopeo writes ``"type": ""`` into Docker archives made from a config
    without it (which Docker then refuses).
    """
    doc = msgspec.json.decode(dump(config))
    doc["rootfs"] = {"type": config.rootfs.type, "diff_ids": list(config.rootfs.diff_ids)}
    return msgspec.json.encode(doc)


@dataclass(frozen=True, slots=True)
class Image:
    record: ImageRecord
    manifest_descriptor: Descriptor
    manifest: Manifest
    config: ImageConfig

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def layers(self) -> list[Descriptor]:
        return self.manifest.layers

    @property
    def diff_ids(self) -> list[str]:
        return self.config.rootfs.diff_ids

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.config.rootfs.diff_ids)

    @property
    def top_chain_id(self) -> str:
        """The snapshot a container of this image starts from ("" for no layers)."""
        ids = self.chain_ids
        return ids[-1] if ids else ""

    @property
    def size(self) -> int:
        """Bytes of the image's layers, as stored (Docker's ``Size``)."""
        return sum(layer.size for layer in self.manifest.layers)

    @property
    def references(self) -> list[Reference]:
        return [parse(n, default_tag=False) for n in self.record.names]

    @property
    def repo_tags(self) -> list[str]:
        return [r.familiar() for r in self.references if r.tag is not None and r.digest is None]

    @property
    def repo_digests(self) -> list[str]:
        """``repo@digest`` for every repository naming it (the manifest digest,
        which is what a registry would serve) plus explicit digest references."""
        out: list[str] = []
        for r in self.references:
            d = r.digest or self.record.target.digest
            s = f"{r.familiar_name()}@{d}"
            if s not in out:
                out.append(s)
        return out

    @property
    def dangling(self) -> bool:
        return not self.record.names
