"""Bad input: registries that lie or lack blobs, bad references, oversized
manifests, search where there is none. Each is a clear error and leaves
the local store as it was: no image, no blob of the failed pull, no ingest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from _clienttools import Route, ScriptedServer
from _regtools import Running

from dockyard.distribution.client import pull, push, search
from dockyard.distribution.client.errors import (
    InvalidManifestError,
    InvalidReferenceFormatError,
    SearchUnsupportedError,
    VerificationFailedError,
)
from dockyard.distribution.errors import BlobUnknownError
from dockyard.images import ImageService
from dockyard.oci.digest import Digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = b"layer bytes " * 5000
CONFIG = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [str(Digest.from_bytes(b"diff"))]}}).encode()


def manifest(layer: bytes = LAYER, size: int | None = None) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": str(Digest.from_bytes(CONFIG)), "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": str(Digest.from_bytes(layer)), "size": len(layer) if size is None else size}],
    }).encode()


def blob(data: bytes) -> Route:
    return 200, {"Content-Type": "application/octet-stream"}, data


def registry_of(routes: dict[str, Route]) -> dict[str, Route]:
    return {"/v2/": (200, {}, b"{}"), **routes}


@pytest.fixture
def scripted() -> Iterator[Callable[[dict[str, Route]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(routes: dict[str, Route]) -> ScriptedServer:
        s = ScriptedServer(registry_of(routes))
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def assert_untouched(svc: ImageService) -> None:
    assert svc.list() == []
    assert [i.digest for i in svc.content.list()] == []
    assert svc.content.list_statuses() == []


def test_a_blob_whose_digest_does_not_match(scripted: Callable[..., ScriptedServer],
                                           stores: Callable[[str], ImageService]) -> None:
    m = manifest()
    lie = b"LAYER BYTES " * 5000  # same size, other bytes
    s = scripted({"/v2/x/lie/manifests/1": (200, {"Content-Type": OCI_MANIFEST}, m),
                  f"/v2/x/lie/blobs/{Digest.from_bytes(CONFIG)}": blob(CONFIG),
                  f"/v2/x/lie/blobs/{Digest.from_bytes(LAYER)}": blob(lie)})
    dst = stores("dst")
    with pytest.raises(VerificationFailedError, match=str(Digest.from_bytes(LAYER))):
        pull(dst, f"{s.host}/x/lie:1")
    assert dst.list() == [] and not dst.content.exists(Digest.from_bytes(LAYER))
    assert dst.content.list_statuses() == []


def test_a_blob_longer_than_the_manifest_says(scripted: Callable[..., ScriptedServer],
                                             stores: Callable[[str], ImageService]) -> None:
    m = manifest(size=len(LAYER) - 10)
    s = scripted({"/v2/x/long/manifests/1": (200, {"Content-Type": OCI_MANIFEST}, m),
                  f"/v2/x/long/blobs/{Digest.from_bytes(CONFIG)}": blob(CONFIG),
                  f"/v2/x/long/blobs/{Digest.from_bytes(LAYER)}": blob(LAYER)})
    dst = stores("dst")
    with pytest.raises(VerificationFailedError, match="more than"):
        pull(dst, f"{s.host}/x/long:1")
    assert dst.list() == []


def test_a_manifest_referencing_a_missing_blob(scripted: Callable[..., ScriptedServer],
                                              stores: Callable[[str], ImageService]) -> None:
    s = scripted({"/v2/x/missing/manifests/1": (200, {"Content-Type": OCI_MANIFEST}, manifest()),
                  f"/v2/x/missing/blobs/{Digest.from_bytes(CONFIG)}": blob(CONFIG)})
    dst = stores("dst")
    with pytest.raises(BlobUnknownError, match=str(Digest.from_bytes(LAYER))):
        pull(dst, f"{s.host}/x/missing:1")
    assert dst.list() == []
    assert not dst.content.exists(Digest.from_bytes(manifest()))


def test_manifest_digest_lies(scripted: Callable[..., ScriptedServer],
                              stores: Callable[[str], ImageService]) -> None:
    m = manifest()
    other = str(Digest.from_bytes(b"something else"))
    s = scripted({"/v2/x/m/manifests/1": (200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": other}, m),
                  f"/v2/x/m/manifests/{other}": (200, {"Content-Type": OCI_MANIFEST}, m)})
    dst = stores("dst")
    with pytest.raises(VerificationFailedError, match="Docker-Content-Digest"):
        pull(dst, f"{s.host}/x/m:1")
    with pytest.raises(VerificationFailedError, match=f"sent content with digest {Digest.from_bytes(m)}"):
        pull(dst, f"{s.host}/x/m@{other}")
    assert_untouched(dst)


def test_oversized_and_invalid_manifests(scripted: Callable[..., ScriptedServer],
                                         stores: Callable[[str], ImageService]) -> None:
    big = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "pad": "x" * (5 << 20)}).encode()
    s = scripted({"/v2/x/big/manifests/1": (200, {"Content-Type": OCI_MANIFEST}, big),
                  "/v2/x/bad/manifests/1": (200, {"Content-Type": OCI_MANIFEST}, b'{"schemaVersion": 2}')})
    dst = stores("dst")
    with pytest.raises(InvalidManifestError, match="4 MiB"):
        pull(dst, f"{s.host}/x/big:1")
    with pytest.raises(InvalidManifestError, match="config"):
        pull(dst, f"{s.host}/x/bad:1")
    assert_untouched(dst)


def test_invalid_references(registry: Running, busybox_store: ImageService,
                            stores: Callable[[str], ImageService]) -> None:
    dst = stores("dst")
    for bad in (f"{registry.host}/x/y:bad tag", f"{registry.host}/x/y:-lead", f"{registry.host}/UPPER:1",
                f"{registry.host}/x/../y:1", f"{registry.host}/x/y@sha256:123"):
        with pytest.raises(InvalidReferenceFormatError, match="invalid reference format"):
            pull(dst, bad)
    with pytest.raises(InvalidReferenceFormatError, match="all-tags"):
        pull(dst, f"{registry.host}/x/y:1", all_tags=True)
    with pytest.raises(InvalidReferenceFormatError, match="digest"):
        push(busybox_store, f"{registry.host}/x/y@{Digest.from_bytes(b'x')}")
    assert_untouched(dst)


def test_search(registry: Running, scripted: Callable[..., ScriptedServer]) -> None:
    with pytest.raises(SearchUnsupportedError, match="does not support search"):
        search(f"{registry.host}/busybox")
    body = json.dumps({"num_results": 1, "query": "busybox", "results": [
        {"name": "library/busybox", "description": "Busybox base image.", "star_count": 3,
         "is_official": True, "is_automated": False}]}).encode()
    s = ScriptedServer(lambda method, path: (200, {"Content-Type": "application/json"}, body)
                       if path.startswith("/v1/search?q=busybox&n=5") else None)
    try:
        [hit] = search(f"{s.host}/busybox", limit=5)
    finally:
        s.close()
    assert (hit.name, hit.star_count, hit.is_official) == ("library/busybox", 3, True)
