"""Build image archives by hand (for bad-input and format tests)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile


def make_layer(files: dict[str, bytes]) -> bytes:
    """An uncompressed layer tar holding ``files`` (name → content)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(entries: dict[str, bytes]) -> bytes:
    """A tar archive of ``entries`` (path → bytes), in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def image_blobs(files: dict[str, bytes], *, arch: str = "amd64", cmd: list[str] | None = None,
                layer_media_type: str = "application/vnd.oci.image.layer.v1.tar"
                ) -> tuple[dict[str, bytes], dict[str, object]]:
    """Blobs of a one-layer image and its manifest descriptor."""
    layer = make_layer(files)
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": cmd or ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
        "history": [{"created_by": "test", "comment": "hand made"}],
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": layer_media_type, "digest": digest(layer), "size": len(layer)}],
    }).encode()
    blobs = {digest(layer): layer, digest(config): config, digest(manifest): manifest}
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(manifest), "size": len(manifest)}
    return blobs, desc


def oci_layout(blobs: dict[str, bytes], manifests: list[dict[str, object]]) -> bytes:
    """An OCI image layout tar with ``blobs`` and an index of ``manifests``."""
    entries = {f"blobs/sha256/{d.split(':')[1]}": b for d, b in blobs.items()}
    entries["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    entries["index.json"] = json.dumps({"schemaVersion": 2, "manifests": manifests}).encode()
    return tar_of(entries)
