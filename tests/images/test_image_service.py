"""The image service: import, ls/filters, inspect, history, tag, rm, prune, df, unpack."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from _imgtools import digest, image_blobs, make_layer, oci_layout

from dockyard.images import ImageService, busybox_image
from dockyard.images.errors import (
    ImageConflictError,
    ImageNotFoundError,
    InvalidChangeError,
    InvalidReferenceError,
    PlatformNotFoundError,
)
from dockyard.images.model import chain_ids
from dockyard.snapshot import mount_all, unmount_all


def _import(svc: ImageService, files: dict[str, bytes], ref: str | None, **kw: object) -> str:
    return svc.import_image(io.BytesIO(make_layer(files)), ref, **kw).id  # type: ignore[arg-type]


def test_import_busybox_and_inspect(busybox: ImageService) -> None:
    doc = busybox.inspect("busybox")
    assert doc["Id"].startswith("sha256:") and doc["RepoTags"] == ["busybox:latest"]
    assert doc["RepoDigests"] == [f"busybox@{doc['Descriptor']['digest']}"]
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["Architecture"] == "amd64" and doc["Os"] == "linux"
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Size"] > 1_000_000 and doc["Comment"] == "Imported from -"
    # Every way of naming it finds the same image.
    iid = doc["Id"]
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox:latest",
                "library/busybox", iid, iid[7:], iid[7:19], "sha256:" + iid[7:15],
                f"busybox@{doc['Descriptor']['digest']}"):
        assert busybox.resolve(ref).id == iid, ref
    with pytest.raises(ImageNotFoundError, match="No such image: nope"):
        busybox.resolve("nope")


def test_image_id_is_config_digest(busybox: ImageService) -> None:
    img = busybox.get("busybox")
    assert img.id == img.manifest.config.digest
    assert busybox.content.exists(img.id)


def test_import_directory_and_changes(images: ImageService, busybox_rootfs: Path) -> None:
    img = images.import_image(
        str(busybox_rootfs), "me/app:v1", message="hello",
        changes=[
            'CMD ["echo", "hi"]', "ENTRYPOINT /bin/sh -c", 'ENV A=1 B="two words"', "ENV C 3",
            "WORKDIR /srv", "WORKDIR app", "USER 1000:1000", "EXPOSE 80 53/udp 8000-8001",
            'LABEL version="1.0" maintainer=me', 'VOLUME ["/data"]', "VOLUME /cache /logs",
            "STOPSIGNAL SIGINT",
        ],
    )
    cfg = images.inspect("me/app:v1")["Config"]
    assert cfg["Cmd"] == ["echo", "hi"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh -c"]
    assert cfg["Env"] == ["A=1", "B=two words", "C=3"]
    assert cfg["WorkingDir"] == "/srv/app" and cfg["User"] == "1000:1000"
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert cfg["Labels"] == {"version": "1.0", "maintainer": "me"}
    assert set(cfg["Volumes"]) == {"/data", "/cache", "/logs"}
    assert cfg["StopSignal"] == "SIGINT"
    assert images.inspect(img.id)["Comment"] == "hello"
    assert images.history(img.id)[0]["Comment"] == "hello"


@pytest.mark.parametrize(
    ("change", "message"),
    [("FROM busybox", "FROM is not a valid change command"), ("EXPOSE 99999", "invalid port range"),
     ("EXPOSE abc", "invalid port"), ("RUN echo", "RUN is not a valid change command"),
     ("ENV", "ENV")],
)
def test_bad_change_registers_nothing(images: ImageService, change: str, message: str) -> None:
    with pytest.raises(InvalidChangeError, match=message):
        _import(images, {"a": b"1"}, "x:1", changes=[change])
    assert images.list() == []
    assert list(images.content.list()) == []


def test_import_platform(images: ImageService) -> None:
    iid = _import(images, {"a": b"1"}, "arm:1", platform="linux/arm64")
    doc = images.inspect(iid)
    assert (doc["Os"], doc["Architecture"]) == ("linux", "arm64")


def test_list_filters_and_tags(images: ImageService) -> None:
    a = _import(images, {"a": b"1"}, "alpha:1", changes=["LABEL tier=web"])
    b = _import(images, {"b": b"2"}, "beta:1")
    c = _import(images, {"c": b"3"}, None)  # dangling
    images.tag("alpha:1", "alpha:2")
    images.tag(a, "reg.io:5000/team/alpha:3")
    ids = lambda **f: {i["Id"] for i in images.list(filters=f)}  # noqa: E731
    assert {i["Id"] for i in images.list()} == {a, b, c}
    assert ids(dangling=["true"]) == {c}
    assert ids(dangling=["false"]) == {a, b}
    assert ids(reference=["alpha"]) == {a}
    assert ids(reference=["be*"]) == {b}
    assert ids(reference=["alpha:2"]) == {a}
    assert ids(reference=["reg.io:5000/team/*"]) == {a}
    assert ids(label=["tier"]) == {a} and ids(label=["tier=web"]) == {a} and ids(label=["tier=db"]) == set()
    assert ids(since=[a]) == {b, c} and ids(before=[c]) == {a, b}
    summary = next(i for i in images.list() if i["Id"] == a)
    assert summary["RepoTags"] == ["alpha:1", "alpha:2", "reg.io:5000/team/alpha:3"]
    assert summary["Labels"] == {"tier": "web"}
    with pytest.raises(InvalidReferenceError):
        images.tag("alpha:1", "Bad/Name")
    with pytest.raises(ImageNotFoundError):
        images.tag("nope", "x:1")


def test_history_shape(busybox: ImageService) -> None:
    h = busybox.history("busybox")
    assert len(h) == 1
    assert set(h[0]) == {"Id", "Created", "CreatedBy", "Tags", "Size", "Comment"}
    assert h[0]["Id"] == busybox.resolve("busybox").id and h[0]["Tags"] == ["busybox:latest"]


def test_rm_untag_semantics(images: ImageService) -> None:
    a = _import(images, {"a": b"1"}, "alpha:1")
    images.tag("alpha:1", "alpha:2")
    images.tag("alpha:1", "other:1")
    # By name: untag only while other names remain.
    assert images.remove("alpha:2") == [{"Untagged": "alpha:2"}]
    # By id, tagged in two repositories: refused without force.
    with pytest.raises(ImageConflictError, match="referenced in multiple repositories"):
        images.remove(a[7:19])
    assert images.resolve("other:1").id == a
    out = images.remove(a, force=True)
    assert {"Untagged": "alpha:1"} in out and {"Untagged": "other:1"} in out
    assert {"Deleted": a} in out
    assert images.list() == [] and list(images.content.list()) == []


def test_rm_last_tag_deletes_and_collects(busybox: ImageService) -> None:
    img = busybox.get("busybox")
    busybox.unpack("busybox")
    assert busybox.snapshotter.stat(img.top_chain_id)
    out = busybox.remove("busybox")
    assert out[:2] == [{"Untagged": "busybox:latest"}, {"Deleted": img.id}]
    assert {"Deleted": img.top_chain_id} in out  # the layer snapshot went too
    assert list(busybox.content.list()) == [] and busybox.snapshotter.walk() == []


def test_rm_refused_while_used(images: ImageService) -> None:
    users: dict[str, list[str]] = {}
    images.users = lambda iid: users.get(iid, [])
    a = _import(images, {"a": b"1"}, "alpha:1")
    users[a] = ["c0ffee" * 10]
    with pytest.raises(ImageConflictError, match="container c0ffeec0ffee is using"):
        images.remove("alpha:1")
    # Forced: untagged, but the image stays for its container.
    assert images.remove("alpha:1", force=True) == [{"Untagged": "alpha:1"}]
    assert images.resolve(a).id == a
    assert images.prune(all=True)["ImagesDeleted"] is None


def test_rm_child_image_refused(images: ImageService) -> None:
    a = _import(images, {"a": b"1"}, "base:1")
    # What the builder will do: register an image with its parent's id.
    child = _import(images, {"b": b"2"}, None)
    images.register(images.get(child).manifest_descriptor, ["child:1"], parent=a)
    assert images.inspect("child:1")["Parent"] == a
    with pytest.raises(ImageConflictError, match="dependent child images"):
        images.remove(a)
    # By its last name: untagged, kept for the child, shown only by ls -a.
    assert images.remove("base:1") == [{"Untagged": "base:1"}]
    assert images.resolve(a).id == a
    assert a not in {i["Id"] for i in images.list()}
    assert a in {i["Id"] for i in images.list(all=True)}
    assert images.prune()["ImagesDeleted"] is None


def test_prune_dangling_and_all(images: ImageService) -> None:
    a = _import(images, {"a": b"1"}, "alpha:1")
    _import(images, {"b": b"22"}, "beta:1")
    # Re-tagging alpha:1 onto a new image leaves the old one dangling.
    c = _import(images, {"c": b"333"}, "alpha:1")
    assert images.get(a).dangling and not images.get(c).dangling
    report = images.prune()
    assert report["ImagesDeleted"][0] == {"Deleted": a}
    assert report["SpaceReclaimed"] > 0
    assert {i["RepoTags"][0] for i in images.list()} == {"alpha:1", "beta:1"}
    report = images.prune(all=True)
    assert len([d for d in report["ImagesDeleted"] if "Deleted" in d]) == 2
    assert images.list() == [] and list(images.content.list()) == []


def test_df_shared_and_unique(images: ImageService) -> None:
    layer = make_layer({"shared": b"x" * 5000})
    blobs, desc = image_blobs({"shared": b"x" * 5000})
    # Two images sharing their only layer, one with a different config.
    blobs2, desc2 = image_blobs({"shared": b"x" * 5000}, cmd=["true"])
    images.load(io.BytesIO(oci_layout({**blobs, **blobs2}, [
        {**desc, "annotations": {"io.containerd.image.name": "docker.io/library/one:1"}},
        {**desc2, "annotations": {"io.containerd.image.name": "docker.io/library/two:1"}},
    ])))
    _import(images, {"solo": b"y" * 100}, "solo:1")
    usage = {r["RepoTags"][0]: r for r in images.df()["Images"]}
    assert usage["one:1"]["SharedSize"] == len(layer) == usage["two:1"]["SharedSize"]
    assert usage["one:1"]["UniqueSize"] == usage["one:1"]["Size"] - len(layer) > 0
    assert usage["solo:1"]["SharedSize"] == 0
    total = sum(info.size for info in images.content.list())
    assert images.df()["LayersSize"] == total


def test_unpack_shares_layers_by_chain_id(images: ImageService) -> None:
    base = make_layer({"etc/base": b"base\n"})
    top1, top2 = make_layer({"one": b"1"}), make_layer({"two": b"2"})
    ids = []
    for top in (top1, top2):
        # Two-layer images built by hand: same base layer, different tops.
        import json

        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [digest(base), digest(top)]}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(b), "size": len(b)} for b in (base, top)],
        }).encode()
        images.load(io.BytesIO(oci_layout(
            {digest(base): base, digest(top): top, digest(config): config, digest(manifest): manifest},
            [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest), "size": len(manifest)}])))
        ids.append(digest(config))
    c1, c2 = images.unpack(ids[0]), images.unpack(ids[1])
    assert c1 == chain_ids([digest(base), digest(top1)])[-1]
    names = {i.name for i in images.snapshotter.walk()}
    assert names == {digest(base), c1, c2}  # the base layer is unpacked once
    assert images.unpack(ids[0]) == c1  # once: nothing new the second time
    # The top snapshot shows both layers.
    key = "test-view"
    mounts = images.snapshotter.view(key, c2)
    target = images.snapshotter.root + "/mnt-test"
    os.makedirs(target)
    mount_all(mounts, target)
    try:
        assert open(target + "/etc/base").read() == "base\n" and os.path.exists(target + "/two")
        assert not os.path.exists(target + "/one")
    finally:
        unmount_all(target)
        images.snapshotter.remove(key)
    # Removing one image keeps the shared base for the other.
    images.remove(ids[0])
    assert {i.name for i in images.snapshotter.walk()} == {digest(base), c2}


def test_multi_platform_index(images: ImageService) -> None:
    import json

    amd, amd_desc = image_blobs({"arch": b"amd64"}, arch="amd64")
    arm, arm_desc = image_blobs({"arch": b"arm64"}, arch="arm64")
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{**arm_desc, "platform": {"os": "linux", "architecture": "arm64"}},
                                      {**amd_desc, "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    idx_desc = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest(index),
                "size": len(index), "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"}}
    # Only the amd64 image's blobs are in the archive: arm64 is listed, not available.
    images.load(io.BytesIO(oci_layout({**amd, digest(index): index}, [idx_desc])))
    img = images.get("multi:1")
    assert img.config.architecture == "amd64" and img.record.target.digest == digest(index)
    platforms = {p["platform"]: p["available"] for p in images.platforms("multi:1")}
    assert platforms == {"linux/amd64": True, "linux/arm64": False}
    assert len(images.inspect("multi:1")["Manifests"]) == 2
    with pytest.raises(PlatformNotFoundError, match="not in the store"):
        images.get("multi:1", platform="linux/arm64")
    images.unpack("multi:1")
    # An index without our platform: refused, nothing registered.
    only_arm = json.dumps({"schemaVersion": 2, "manifests": [
        {**arm_desc, "platform": {"os": "linux", "architecture": "arm64"}}]}).encode()
    with pytest.raises(PlatformNotFoundError, match="linux/arm64"):
        images.load(io.BytesIO(oci_layout({**arm, digest(only_arm): only_arm}, [
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest(only_arm),
             "size": len(only_arm), "annotations": {"io.containerd.image.name": "docker.io/library/arm:1"}}])))
    assert [i["RepoTags"] for i in images.list()] == [["multi:1"]]


def test_busybox_image_runs_offline(images: ImageService) -> None:
    img = busybox_image(images)
    assert img.repo_tags == ["busybox:latest"]
    top = images.unpack("busybox")
    key = "busybox-check"
    mounts = images.snapshotter.view(key, top)
    target = images.snapshotter.root + "/mnt-bb"
    os.makedirs(target)
    mount_all(mounts, target)
    try:
        out = subprocess.run(["chroot", target, "/bin/sh", "-c", "echo hi from $(basename $0)"],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "hi from sh"
    finally:
        unmount_all(target)
        images.snapshotter.remove(key)


def test_images_survive_a_gc_without_roots(busybox: ImageService) -> None:
    # Another component running the content store's GC on its own (no roots
    # passed) must not take an image's blobs: the target is a gc.root.
    img = busybox.get("busybox")
    busybox.content.gc()
    assert busybox.content.exists(img.layers[0].digest) and busybox.content.exists(img.id)
    busybox.remove("busybox")
    busybox.content.gc()
    assert list(busybox.content.list()) == []


def test_busybox_image_is_idempotent(images: ImageService) -> None:
    first = busybox_image(images)
    assert busybox_image(images).id == first.id
    assert len(images.list()) == 1


def test_history_of_a_built_image(images: ImageService) -> None:
    import json

    l1, l2 = make_layer({"a": b"1"}), make_layer({"b": b"22"})
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05.123456789Z",
        "rootfs": {"type": "layers", "diff_ids": [digest(l1), digest(l2)]},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:x in /"},
            {"created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True},
            {"created": "2024-01-02T03:04:05Z", "created_by": "RUN echo hi", "comment": "buildkit"},
        ],
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(b), "size": len(b)} for b in (l1, l2)],
    }).encode()
    images.load(io.BytesIO(oci_layout(
        {digest(l1): l1, digest(l2): l2, digest(config): config, digest(manifest): manifest},
        [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
          "size": len(manifest), "annotations": {"io.containerd.image.name": "docker.io/library/built:1"}}])))
    h = images.history("built:1")
    assert [x["CreatedBy"] for x in h] == ["RUN echo hi", '/bin/sh -c #(nop)  CMD ["sh"]',
                                           "/bin/sh -c #(nop) ADD file:x in /"]
    assert [x["Size"] for x in h] == [len(l2), 0, len(l1)]
    assert h[0]["Id"] == digest(config) and h[1]["Id"] == "<missing>" and h[0]["Tags"] == ["built:1"]
    assert h[0]["Created"] == 1704164645 and h[0]["Comment"] == "buildkit"
    assert images.inspect("built:1")["Created"] == "2024-01-02T03:04:05.123456789Z"
