"""Push and pull against our own ``dockyard registry``: round trips, digests,
skip and mount, chunked uploads, ``--all-tags``, multi-platform indexes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from _regtools import Running

from dockyard.distribution.client import RegistryOptions, pull, push
from dockyard.images import ImageService
from dockyard.oci.digest import Digest


def statuses(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("status", "") for m in messages]


def test_push_then_pull_into_a_fresh_root(registry: Running, busybox_store: ImageService,
                                          stores: Callable[[str], ImageService]) -> None:
    src = busybox_store
    ref = f"{registry.host}/rt/busybox:1"
    src.tag("busybox:latest", ref)
    pushed: list[dict[str, Any]] = []
    desc = push(src, ref, progress=pushed.append)
    st = statuses(pushed)
    assert st[0] == f"The push refers to repository [{registry.host}/rt/busybox]"
    assert "Preparing" in st and "Pushed" in st
    assert st[-2] == f"1: digest: {desc.digest} size: {desc.size}"
    assert pushed[-1]["aux"] == {"Tag": "1", "Digest": desc.digest, "Size": desc.size}
    assert any(m.get("status") == "Pushing" and m["progressDetail"]["total"] > 0 for m in pushed)

    # The registry holds exactly what we have.
    with registry.client() as c:
        r = c.get("/v2/rt/busybox/manifests/1", headers={"Accept": desc.media_type})
        assert r.status_code == 200 and Digest.from_bytes(r.content) == desc.digest

    dst = stores("dst")
    got: list[dict[str, Any]] = []
    [img] = pull(dst, ref, progress=got.append)
    assert img.id == src.get("busybox:latest").id
    st = statuses(got)
    assert st[0] == "Pulling from rt/busybox" and got[0]["id"] == "1"
    layer = src.get(ref).layers[0].digest
    assert {"status": "Pull complete", "progressDetail": {}, "id": layer[7:19]} in got
    assert any(m["status"] == "Downloading" and m["progressDetail"]["current"] == src.get(ref).layers[0].size
               for m in got if "progressDetail" in m and m["progressDetail"])
    assert st[-2:] == [f"Digest: {desc.digest}", f"Status: Downloaded newer image for {ref}"]
    assert dst.get(ref).repo_digests == [f"{registry.host}/rt/busybox@{desc.digest}"]
    # Blobs remember where they came from (push mounts from there later).
    info = dst.content.info(layer)
    assert info.labels[f"containerd.io/distribution.source.{registry.host}"] == "rt/busybox"

    # Again: nothing downloaded.
    again: list[dict[str, Any]] = []
    pull(dst, ref, progress=again.append)
    assert "Already exists" in statuses(again) and "Downloading" not in statuses(again)
    assert statuses(again)[-1] == f"Status: Image is up to date for {ref}"

    # By digest, into another fresh root.
    dst2 = stores("dst2")
    [img2] = pull(dst2, f"{registry.host}/rt/busybox@{desc.digest}")
    assert img2.id == img.id
    assert dst2.get(f"{registry.host}/rt/busybox@{desc.digest}").id == img.id


def test_push_skips_existing_blobs_and_mounts_across_repositories(
        registry: Running, busybox_store: ImageService) -> None:
    src = busybox_store
    a, b = f"{registry.host}/mnt/a:1", f"{registry.host}/mnt/b:1"
    src.tag("busybox:latest", a)
    src.tag("busybox:latest", b)
    push(src, a)
    again: list[dict[str, Any]] = []
    push(src, a, progress=again.append)
    assert "Layer already exists" in statuses(again) and "Pushed" not in statuses(again)
    mounted: list[dict[str, Any]] = []
    push(src, b, progress=mounted.append)
    assert "Mounted from mnt/a" in statuses(mounted), statuses(mounted)
    with registry.client() as c:
        assert c.get("/v2/mnt/b/manifests/1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
                     ).status_code == 200


def test_chunked_push_and_all_tags(registry: Running, busybox_store: ImageService,
                                   stores: Callable[[str], ImageService]) -> None:
    src = busybox_store
    for tag in ("one", "two"):
        src.tag("busybox:latest", f"{registry.host}/chunk/bb:{tag}")
        push(src, f"{registry.host}/chunk/bb:{tag}", options=RegistryOptions(chunk_size=300_000))
    dst = stores("dst")
    images = pull(dst, f"{registry.host}/chunk/bb", all_tags=True)
    assert len(images) == 2
    assert {t for i in images for t in i.repo_tags} == {f"{registry.host}/chunk/bb:one",
                                                        f"{registry.host}/chunk/bb:two"}
    assert images[0].id == src.get("busybox:latest").id


def _put(c: httpx.Client, repo: str, data: bytes) -> str:
    d = Digest.from_bytes(data)
    r = c.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202
    assert c.put(r.headers["Location"], params={"digest": d}, content=data).status_code == 201
    return d


def test_multi_platform_index(registry: Running, busybox_store: ImageService,
                              stores: Callable[[str], ImageService]) -> None:
    """An index with amd64 and arm64 manifests (arm64's config differs): the
    default pull takes amd64 and registers the index, ``--platform`` takes arm64."""
    src = busybox_store
    ref = f"{registry.host}/multi/bb:amd64"
    src.tag("busybox:latest", ref)
    amd = push(src, ref)
    img = src.get("busybox:latest")
    config = json.loads(src.content.read(img.manifest.config.digest))
    config["architecture"] = "arm64"
    config["variant"] = "v8"
    arm_config = json.dumps(config).encode()
    manifest = json.loads(src.content.read(img.manifest_descriptor.digest))
    with registry.client() as c:
        manifest["config"] = {**manifest["config"], "digest": _put(c, "multi/bb", arm_config),
                              "size": len(arm_config)}
        arm_manifest = json.dumps(manifest).encode()
        mt = "application/vnd.oci.image.manifest.v1+json"
        assert c.put("/v2/multi/bb/manifests/arm64", content=arm_manifest,
                     headers={"Content-Type": mt}).status_code == 201
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [
                                {"mediaType": mt, "digest": amd.digest, "size": amd.size,
                                 "platform": {"os": "linux", "architecture": "amd64"}},
                                {"mediaType": mt, "digest": Digest.from_bytes(arm_manifest),
                                 "size": len(arm_manifest),
                                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}).encode()
        assert c.put("/v2/multi/bb/manifests/latest", content=index,
                     headers={"Content-Type": "application/vnd.oci.image.index.v1+json"}).status_code == 201
    dst = stores("dst")
    [default] = pull(dst, f"{registry.host}/multi/bb")
    assert default.id == img.id and default.config.architecture == "amd64"
    assert dst.resolve(f"{registry.host}/multi/bb").target.digest == Digest.from_bytes(index)
    [arm] = pull(dst, f"{registry.host}/multi/bb:latest", platform="linux/arm64")
    assert arm.config.architecture == "arm64" and arm.id == Digest.from_bytes(arm_config)

    # With every platform here, a push sends the whole index (and a pull of
    # it elsewhere gets the same digest); with one missing, only amd64's manifest.
    [whole] = pull(dst, f"{registry.host}/multi/bb@{Digest.from_bytes(index)}")
    dst.tag(f"{registry.host}/multi/bb@{Digest.from_bytes(index)}", f"{registry.host}/multi/copy:all")
    assert push(dst, f"{registry.host}/multi/copy:all").digest == Digest.from_bytes(index)
    third = stores("third")
    [again] = pull(third, f"{registry.host}/multi/copy:all", platform="linux/arm64")
    assert again.id == arm.id
    fourth = stores("fourth")
    [one] = pull(fourth, f"{registry.host}/multi/copy:all")  # amd64 only
    fourth.tag(f"{registry.host}/multi/copy:all", f"{registry.host}/multi/one:1")
    assert push(fourth, f"{registry.host}/multi/one:1").digest == amd.digest


def test_many_layers_in_parallel(registry: Running, stores: Callable[[str], ImageService]) -> None:
    """Five layers with three download slots: two wait, all arrive, verified."""
    import gzip
    import os

    layers = [gzip.compress(os.urandom(200_000), compresslevel=1) for _ in range(5)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [str(Digest.from_bytes(gzip.decompress(x))) for x in layers]}}).encode()
    with registry.client() as c:
        descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                  "digest": _put(c, "many/layers", x), "size": len(x)} for x in layers]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": _put(c, "many/layers", config), "size": len(config)},
                               "layers": descs}).encode()
        assert c.put("/v2/many/layers/manifests/v1", content=manifest,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}).status_code == 201
    dst = stores("dst")
    msgs: list[dict[str, Any]] = []
    [img] = pull(dst, f"{registry.host}/many/layers:v1",
                 options=RegistryOptions(max_concurrent_downloads=3), progress=msgs.append)
    assert [d.digest for d in img.layers] == [d["digest"] for d in descs]
    waiting = [m["id"] for m in msgs if m.get("status") == "Waiting"]
    assert waiting == [str(d["digest"])[7:19] for d in descs[2:]]
    assert sum(1 for m in msgs if m.get("status") == "Pull complete") == 5
    assert all(dst.content.read(d["digest"]) == x for d, x in zip(descs, layers, strict=True))
