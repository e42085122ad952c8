"""Build small OCI image layouts for registry tests (by hand, from a rootfs)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def rootfs_layer(rootfs: Path) -> bytes:
    """A gzip layer of ``rootfs`` (deterministic: sorted, mtime 0)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for dirpath, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs + files):
                full = os.path.join(dirpath, name)
                ti = t.gettarinfo(full, arcname=os.path.relpath(full, rootfs))
                ti.mtime = 0
                if ti.isfile():
                    with open(full, "rb") as f:
                        t.addfile(ti, f)
                else:
                    t.addfile(ti)
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


def write_layout(dest: Path, layers: list[bytes], *, tag: str = "latest",
                 extra_config: dict[str, object] | None = None) -> dict[str, str]:
    """An OCI image layout at ``dest`` holding one image; returns its digests."""
    diff_ids = [digest(gzip.decompress(layer)) for layer in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"], **(extra_config or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(x), "size": len(x)} for x in layers],
    }).encode()
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (*layers, config, manifest):
        (blobs / digest(blob).split(":")[1]).write_bytes(blob)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return {"manifest": digest(manifest), "config": digest(config),
            **{f"layer{i}": digest(x) for i, x in enumerate(layers)}}


def layout_blobs(layout: Path) -> dict[str, bytes]:
    return {"sha256:" + p.name: p.read_bytes() for p in (layout / "blobs" / "sha256").iterdir()}
