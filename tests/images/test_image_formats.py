"""save/load (Docker archive and OCI layout, checked with the real skopeo), export, bad archives."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path

import pytest
from _imgtools import digest, image_blobs, make_layer, oci_layout, tar_of

from dockyard.images import ImageService
from dockyard.images.errors import (
    ImageError,
    InvalidArchiveError,
    InvalidImageError,
    UnsupportedMediaTypeError,
)
from dockyard.images.export import export_image


def _save(svc: ImageService, refs: list[str], path: Path, **kw: str) -> Path:
    with open(path, "wb") as f:
        svc.save(refs, f, **kw)
    return path


def _skopeo(*args: str) -> str:
    out = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def fresh(tmp_path: Path) -> ImageService:
    svc = ImageService.open(str(tmp_path / "root2"))
    yield svc  # type: ignore[misc]
    svc.close()


def test_save_is_docker_archive_and_oci_layout(busybox: ImageService, tmp_path: Path) -> None:
    busybox.tag("busybox", "busybox:1.36")
    path = _save(busybox, ["busybox"], tmp_path / "bb.tar")  # a repository: all its tags
    with tarfile.open(path) as t:
        names = set(t.getnames())
        manifest = json.load(t.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(t.extractfile("index.json"))  # type: ignore[arg-type]
        repositories = json.load(t.extractfile("repositories"))  # type: ignore[arg-type]
    img = busybox.get("busybox")
    assert {"oci-layout", "index.json", "manifest.json", "repositories"} <= names
    assert manifest == [{"Config": f"blobs/sha256/{img.id[7:]}",
                         "RepoTags": ["busybox:latest", "busybox:1.36"],
                         "Layers": [f"blobs/sha256/{img.layers[0].digest[7:]}"]}]
    assert {m["annotations"]["io.containerd.image.name"] for m in index["manifests"]} == {
        "docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"}
    assert set(repositories["busybox"]) == {"latest", "1.36"}
    # skopeo reads it both ways.
    info = json.loads(_skopeo("inspect", f"docker-archive:{path}"))
    assert info["Layers"] == img.diff_ids and info["Architecture"] == "amd64"
    info = json.loads(_skopeo("inspect", f"oci-archive:{path}:latest"))
    assert info["Digest"] == img.record.target.digest
    # Saving the same image twice gives the same bytes.
    assert _save(busybox, ["busybox"], tmp_path / "again.tar").read_bytes() == path.read_bytes()


def test_save_load_roundtrip(busybox: ImageService, fresh: ImageService, tmp_path: Path) -> None:
    img = busybox.get("busybox")
    path = _save(busybox, ["busybox:latest"], tmp_path / "bb.tar")
    assert fresh.load(str(path)) == ["Loaded image: busybox:latest"]
    got = fresh.get("busybox")
    assert got.id == img.id and got.record.target.digest == img.record.target.digest
    assert fresh.unpack("busybox") == img.top_chain_id
    # gzip'ed archives load too; by id, an image is saved without a name.
    by_id = _save(busybox, [img.id[7:19]], tmp_path / "id.tar").read_bytes()
    fresh.remove("busybox")
    assert fresh.load(io.BytesIO(gzip.compress(by_id, 1))) == [f"Loaded image ID: {img.id}"]
    assert fresh.get(img.id).dangling


def test_load_from_an_open_file_mid_way(busybox: ImageService, fresh: ImageService,
                                        tmp_path: Path) -> None:
    # ``docker load < FILE``: stdin is a regular file, read by offset from where it stands.
    img = busybox.get("busybox")
    archive = _save(busybox, ["busybox:latest"], tmp_path / "bb.tar").read_bytes()
    path = tmp_path / "prefixed"
    path.write_bytes(b"#" * 777 + archive)
    with open(path, "rb") as f:
        f.seek(777)
        assert fresh.load(f) == ["Loaded image: busybox:latest"]
    assert fresh.unpack("busybox") == img.top_chain_id


def test_load_from_a_fifo_path(busybox: ImageService, fresh: ImageService, tmp_path: Path) -> None:
    # ``-i /dev/stdin`` or a named pipe: not a regular file, so streamed, not read by offset.
    archive = _save(busybox, ["busybox:latest"], tmp_path / "bb.tar").read_bytes()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(archive)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert fresh.load(str(fifo)) == ["Loaded image: busybox:latest"]
    finally:
        writer.join()


def test_skopeo_copies_both_ways(busybox: ImageService, fresh: ImageService, tmp_path: Path) -> None:
    img = busybox.get("busybox")
    ours = _save(busybox, ["busybox"], tmp_path / "bb.tar")
    # Ours -> skopeo's OCI layout (skopeo compresses the layer) -> we load the directory.
    layout = tmp_path / "layout"
    _skopeo("copy", f"docker-archive:{ours}", f"oci:{layout}:v1")
    assert fresh.load(str(layout)) == [f"Loaded image ID: {img.id}"]
    assert fresh.get(img.id).layers[0].media_type.endswith("tar+gzip")
    assert fresh.unpack(img.id) == img.top_chain_id
    # skopeo's OCI layout -> skopeo's docker-archive (legacy layout with symlinks) -> we load it.
    theirs = tmp_path / "theirs.tar"
    _skopeo("copy", f"oci:{layout}:v1", f"docker-archive:{theirs}:example.com/bb:v2")
    with tarfile.open(theirs) as t:
        assert "index.json" not in t.getnames()
    assert fresh.load(str(theirs)) == ["Loaded image: example.com/bb:v2"]
    assert fresh.resolve("example.com/bb:v2").id == img.id
    # And our OCI-only save is an oci-archive for skopeo.
    oci = _save(busybox, ["busybox"], tmp_path / "oci.tar", format="oci")
    with tarfile.open(oci) as t:
        assert "manifest.json" not in t.getnames()
    _skopeo("copy", f"oci-archive:{oci}:latest", f"oci:{tmp_path / 'l2'}:x")


def test_export_image(busybox: ImageService) -> None:
    buf = io.BytesIO()
    export_image(busybox, "busybox", buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as t:
        members = {m.name.lstrip("./"): m for m in t.getmembers()}
    assert members["bin/busybox"].isfile() and members["bin/busybox"].size > 500_000
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"
    assert members["tmp"].mode & 0o1777 == 0o1777


# --- bad archives: a clear error, nothing registered, nothing left after GC ---------------


def _bad(svc: ImageService, data: bytes, error: type[ImageError], match: str) -> None:
    # Twice: streamed (stdin, a pipe), and from a file (``-i``: read by offset).
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.tar"
        path.write_bytes(data)
        for source in (io.BytesIO(data), str(path)):
            with pytest.raises(error, match=match):
                svc.load(source)
            assert svc.list() == []
            svc.gc()
            assert list(svc.content.list()) == [] and svc.content.list_statuses() == []


def test_manifest_digest_mismatch(images: ImageService) -> None:
    blobs, desc = image_blobs({"a": b"1"})
    tampered = {d: (b.replace(b'"schemaVersion": 2', b'"schemaVersion":2') if d == desc["digest"] else b)
                for d, b in blobs.items()}
    _bad(images, oci_layout(tampered, [desc]), InvalidArchiveError, "digest mismatch")


def test_descriptor_size_mismatch(images: ImageService) -> None:
    blobs, desc = image_blobs({"a": b"1"})
    _bad(images, oci_layout(blobs, [{**desc, "size": desc["size"] + 1}]), InvalidImageError, "size")  # type: ignore[operator]


def test_unknown_media_type(images: ImageService) -> None:
    blobs, desc = image_blobs({"a": b"1"}, layer_media_type="application/x-mystery")
    _bad(images, oci_layout(blobs, [desc]), UnsupportedMediaTypeError, "application/x-mystery")
    blobs, desc = image_blobs({"a": b"1"})
    _bad(images, oci_layout(blobs, [{**desc, "mediaType": "application/x-other"}]), InvalidImageError,
         "not an image manifest")


def test_bad_reference_in_archive(images: ImageService) -> None:
    blobs, desc = image_blobs({"a": b"1"})
    _bad(images, oci_layout(blobs, [{**desc, "annotations": {"io.containerd.image.name": "Bad/Name:x"}}]),
         InvalidArchiveError, "must be lowercase")
    layer = make_layer({"a": b"1"})
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}).encode()
    archive = tar_of({"c.json": cfg, "l.tar": layer, "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": ["UPPER:1"], "Layers": ["l.tar"]}]).encode()})
    _bad(images, archive, InvalidArchiveError, "must be lowercase")


@pytest.mark.parametrize(
    ("name", "match"),
    [("../escape", "escapes the archive"), ("blobs/../../x", "escapes the archive"),
     ("/etc/passwd", "absolute path")],
)
def test_path_escapes(images: ImageService, name: str, match: str) -> None:
    blobs, desc = image_blobs({"a": b"1"})
    good = oci_layout(blobs, [desc])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t, tarfile.open(fileobj=io.BytesIO(good)) as src:
        ti = tarfile.TarInfo(name)
        ti.size = 4
        t.addfile(ti, io.BytesIO(b"evil"))
        for m in src.getmembers():
            t.addfile(m, src.extractfile(m))
    _bad(images, buf.getvalue(), InvalidArchiveError, match)


def test_symlink_escape_and_special_files(images: ImageService) -> None:
    layer = make_layer({"a": b"1"})
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("c.json", cfg), ("manifest.json", json.dumps(
                [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["d/layer.tar"]}]).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        link = tarfile.TarInfo("d/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/shadow"
        t.addfile(link)
    _bad(images, buf.getvalue(), InvalidArchiveError, "escapes the archive")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        dev = tarfile.TarInfo("dev-null")
        dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
        t.addfile(dev)
    _bad(images, buf.getvalue(), InvalidArchiveError, "only files, directories and links")


def test_truncated_corrupt_and_empty(images: ImageService) -> None:
    blobs, desc = image_blobs({"big": b"z" * 100_000})
    good = oci_layout(blobs, [desc])
    _bad(images, good[: len(good) // 2], InvalidArchiveError, "truncated|not a valid tar|unexpected end")
    _bad(images, b"this is not a tar archive at all" * 40, InvalidArchiveError, "not a valid tar")
    _bad(images, gzip.compress(good)[:200], InvalidArchiveError, "corrupt|truncated")
    _bad(images, tar_of({"README": b"hi"}), InvalidArchiveError, "neither manifest.json nor index.json")


def test_big_blob_truncated_or_tampered(images: ImageService) -> None:
    # Past the in-memory size: copied out of a file by offset, or streamed.
    blobs, desc = image_blobs({"big": os.urandom(400_000)})
    good = oci_layout(blobs, [desc])
    with tarfile.open(fileobj=io.BytesIO(good)) as t:
        layer = max(t.getmembers(), key=lambda m: m.size)
    _bad(images, good[: layer.offset_data + layer.size // 2], InvalidArchiveError,
         "truncated|not a valid tar|unexpected end")
    at = layer.offset_data + layer.size // 2
    flipped = good[:at] + bytes([good[at] ^ 1]) + good[at + 1:]
    _bad(images, flipped, InvalidArchiveError, "digest mismatch")


def test_missing_blob_and_diff_id_mismatch(images: ImageService) -> None:
    blobs, desc = image_blobs({"a": b"1"})
    layer = next(d for d, b in blobs.items() if b.startswith(b"a\0"))
    _bad(images, oci_layout({d: b for d, b in blobs.items() if d != layer}, [desc]),
         InvalidImageError, "not in the store")
    other = make_layer({"b": b"2"})
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [digest(other)]}}).encode()
    archive = tar_of({"c.json": cfg, "l.tar": make_layer({"a": b"1"}), "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l.tar"]}]).encode()})
    _bad(images, archive, InvalidImageError, "diff ID")


def test_import_refuses_escaping_tar(images: ImageService) -> None:
    evil = make_layer({"ok": b"1", "a/../../etc/evil": b"x"})
    with pytest.raises(InvalidArchiveError, match="a/../../etc/evil"):
        images.import_image(io.BytesIO(evil), "evil:1")
    with pytest.raises(InvalidArchiveError, match="not a valid tar|truncated"):
        images.import_image(io.BytesIO(make_layer({"x": b"y" * 5000})[:1000]), "cut:1")
    assert images.list() == []
    images.gc()
    assert list(images.content.list()) == []


def test_decompression_bomb_is_bounded(tmp_path: Path) -> None:
    from dockyard.snapshot import Limits

    svc = ImageService.open(str(tmp_path / "small"), limits=Limits(max_bytes=1 << 20))
    try:
        bomb = gzip.compress(make_layer({"zeros": b"\0" * (8 << 20)}), 9)  # 8 MiB in ~8 KiB
        with pytest.raises(InvalidArchiveError, match="exceeds the limit of 1048576 bytes"):
            svc.import_image(io.BytesIO(bomb), "bomb:1")
        with pytest.raises(InvalidArchiveError, match="exceeds the limit"):
            svc.load(io.BytesIO(bomb))
        assert svc.list() == []
        svc.gc()
        assert list(svc.content.list()) == [] and svc.content.list_statuses() == []
    finally:
        svc.close()


def test_concurrent_loads_of_one_archive(busybox: ImageService, tmp_path: Path) -> None:
    import threading

    archive = _save(busybox, ["busybox"], tmp_path / "bb.tar")
    root = str(tmp_path / "shared")
    services = [ImageService.open(root) for _ in range(3)]
    errors: list[BaseException] = []

    def load(svc: ImageService) -> None:
        try:
            svc.load(str(archive))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=load, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert [i["RepoTags"] for i in services[0].list()] == [["busybox:latest"]]
        assert services[1].get("busybox").id == busybox.get("busybox").id
        services[2].gc()
        assert len(list(services[0].content.list())) == 3  # manifest, config, layer
    finally:
        for s in services:
            s.close()
