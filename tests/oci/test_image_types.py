"""Image-spec types: loading real-shaped documents, errors naming the field,
media types of both families, and platform selection."""

import json

import pytest

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import digest_of
from dockyard.oci.errors import (
    DigestMismatchError,
    InvalidSpecError,
    NoMatchingPlatformError,
    UnknownMediaTypeError,
)
from dockyard.oci.image import (
    EMPTY_DESCRIPTOR,
    ContainerConfig,
    Descriptor,
    Index,
    Manifest,
    Platform,
    RootFS,
    dump,
    format_platform,
    host_platform,
    load_descriptor,
    load_image_config,
    load_index,
    load_layout_header,
    load_manifest,
    load_manifest_or_index,
    load_verified,
    normalize_platform,
    parse_platform,
    platform_matches,
    select_platform,
)

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64

DOCKER_MANIFEST = {
    "schemaVersion": 2,
    "mediaType": mt.DOCKER_MANIFEST,
    "config": {"mediaType": mt.DOCKER_CONFIG, "size": 1457, "digest": A},
    "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "size": 2152262, "digest": B}],
}

# As `docker inspect`'s source writes it: Go-style keys inside "config", nulls.
DOCKER_CONFIG = {
    "architecture": "amd64",
    "config": {
        "Hostname": "",
        "User": "",
        "AttachStdin": False,
        "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
        "Image": "sha256:" + "d" * 64,
        "Volumes": {"/data": {}},
        "WorkingDir": "/srv",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": {"org.example": "x"},
        "StopSignal": "SIGQUIT",
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30000000000, "Retries": 3},
        "ArgsEscaped": True,
        "Shell": ["/bin/sh", "-c"],
    },
    "container": "abc",
    "created": "2024-09-26T21:31:42Z",
    "docker_version": "26.1.5",
    "history": [
        {"created": "2024-09-26T21:31:42Z", "created_by": "ADD file:x in / "},
        {"created": "2024-09-26T21:31:42Z", "created_by": 'CMD ["sh"]', "empty_layer": True},
    ],
    "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": [C]},
}


def _j(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_docker_manifest_and_config_load_with_spec_names() -> None:
    m = load_manifest(_j(DOCKER_MANIFEST))
    assert isinstance(m, Manifest) and m.is_docker
    assert m.config.media_type == mt.DOCKER_CONFIG and m.layers[0].size == 2152262
    assert mt.layer_compression(m.layers[0].media_type) == "gzip"
    out = json.loads(dump(m))
    assert out == DOCKER_MANIFEST  # same field names, nothing invented
    cfg = load_image_config(_j(DOCKER_CONFIG))
    assert cfg.config is not None
    assert cfg.config.cmd == ["sh"] and cfg.config.entrypoint is None
    assert cfg.config.exposed_ports is not None and set(cfg.config.exposed_ports) == {"80/tcp", "443/tcp"}
    assert cfg.config.working_dir == "/srv" and cfg.config.stop_signal == "SIGQUIT"
    assert cfg.config.healthcheck is not None and cfg.config.healthcheck.retries == 3
    assert cfg.rootfs.diff_ids == [C]
    assert cfg.history is not None and cfg.history[1].empty_layer is True
    written = json.loads(dump(cfg))
    assert written["config"]["Cmd"] == ["sh"] and written["config"]["ExposedPorts"] == {
        "80/tcp": {},
        "443/tcp": {},
    }
    assert written["rootfs"] == {"type": "layers", "diff_ids": [C]}
    assert written["history"][1] == {
        "created": "2024-09-26T21:31:42Z",
        "created_by": 'CMD ["sh"]',
        "empty_layer": True,
    }
    assert str(cfg.platform) == "linux/amd64"


def test_built_config_writes_go_style_keys() -> None:
    from dockyard.oci.image import ImageConfig

    cfg = ImageConfig(
        architecture="arm64",
        os="linux",
        variant="v8",
        config=ContainerConfig(env=["A=1"], entrypoint=["/init"], user="1000:1000"),
        rootfs=RootFS(diff_ids=[A]),
    )
    doc = json.loads(dump(cfg))
    assert doc["config"] == {"User": "1000:1000", "Env": ["A=1"], "Entrypoint": ["/init"]}
    assert doc["variant"] == "v8" and "history" not in doc
    assert load_image_config(dump(cfg)) == cfg


def test_oci_manifest_with_artifact_fields_round_trips() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1",
        "config": {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_JSON_DIGEST, "size": 2, "data": "e30="},
        "layers": [{"mediaType": "application/spdx+json", "digest": A, "size": 10}],
        "subject": {"mediaType": mt.OCI_MANIFEST, "digest": B, "size": 500},
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }
    # Not an image: the default (image) loader refuses its config type...
    with pytest.raises(UnknownMediaTypeError, match=r"\$\.config\.mediaType"):
        load_manifest(_j(doc))
    # ...the artifact loader takes it.
    m = load_manifest(_j(doc), artifacts=True)
    assert m.artifact_type == "application/vnd.example.sbom.v1"
    assert m.subject is not None and m.subject.digest == B
    assert m.config.data == b"{}"
    assert json.loads(dump(m)) == doc
    assert EMPTY_DESCRIPTOR.digest == digest_of(mt.EMPTY_JSON)


def test_manifest_list_and_platform_selection() -> None:
    def entry(d: str, arch: str, variant: str | None = None, os: str = "linux") -> dict[str, object]:
        p: dict[str, object] = {"architecture": arch, "os": os}
        if variant:
            p["variant"] = variant
        return {"mediaType": mt.DOCKER_MANIFEST, "digest": d, "size": 527, "platform": p}

    digests = ["sha256:" + c * 64 for c in "123456"]
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST,
        "manifests": [
            entry(digests[0], "arm", "v6"),
            entry(digests[1], "arm", "v7"),
            entry(digests[2], "arm64", "v8"),
            entry(digests[3], "amd64"),
            entry(digests[4], "386"),
            entry(digests[5], "amd64", os="windows"),
        ],
    }
    idx = load_index(_j(doc))
    assert isinstance(idx, Index) and idx.is_docker
    assert select_platform(idx, "linux/amd64").digest == digests[3]
    assert select_platform(idx, "linux/x86_64").digest == digests[3]
    assert select_platform(idx, Platform(os="linux", architecture="x86_64")).digest == digests[3]
    assert select_platform(idx, "linux/arm64").digest == digests[2]  # v8 is arm64's default
    assert select_platform(idx, "linux/aarch64/v8").digest == digests[2]
    assert select_platform(idx, "linux/arm/v7").digest == digests[1]
    assert select_platform(idx, "linux/armhf").digest == digests[1]
    assert select_platform(idx, "linux/arm").digest == digests[1]  # arm means v7
    assert select_platform(idx, "linux/i386").digest == digests[4]
    assert select_platform(idx, "windows/amd64").digest == digests[5]
    assert select_platform(idx).digest == select_platform(idx, host_platform()).digest
    # arm/v7 can run v6 when v7 is missing; arm64 can run arm/v7
    del doc["manifests"][1]  # type: ignore[attr-defined]
    del doc["manifests"][1]  # type: ignore[attr-defined]
    idx2 = load_index(_j(doc))
    assert select_platform(idx2, "linux/arm/v7").digest == digests[0]
    with pytest.raises(NoMatchingPlatformError) as e:
        select_platform(idx2, "linux/s390x")
    assert "linux/s390x" in str(e.value) and "linux/arm/v6" in str(e.value)
    assert "windows/amd64" in str(e.value)


def test_attestations_and_platformless_entries_are_never_picked() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {"mediaType": mt.OCI_MANIFEST, "digest": A, "size": 1},
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": B,
                "size": 1,
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            },
            {"mediaType": mt.OCI_MANIFEST, "digest": C, "size": 1,
             "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    }
    assert select_platform(load_index(_j(doc)), "linux/amd64").digest == C
    with pytest.raises(NoMatchingPlatformError):
        select_platform(load_index(_j(doc)), "unknown/unknown")


def test_platform_normalisation_and_matching() -> None:
    assert format_platform(normalize_platform(Platform(os="Linux", architecture="x86_64"))) == "linux/amd64"
    assert format_platform(normalize_platform(Platform(os="linux", architecture="amd64", variant="v1"))) == "linux/amd64"
    assert format_platform(normalize_platform(Platform(os="linux", architecture="aarch64"))) == "linux/arm64"
    assert format_platform(parse_platform("linux/arm64/v8")) == "linux/arm64"
    assert format_platform(parse_platform("armel")) == "linux/arm/v6"
    assert format_platform(parse_platform("macos/arm64")) == "darwin/arm64"
    assert parse_platform("linux").architecture == host_platform().architecture
    amd64_v3 = parse_platform("linux/amd64/v3")
    assert platform_matches(amd64_v3, Platform(os="linux", architecture="amd64", variant="v2"))
    assert platform_matches(amd64_v3, Platform(os="linux", architecture="amd64"))
    assert not platform_matches(parse_platform("linux/amd64"), Platform(os="linux", architecture="amd64", variant="v3"))
    assert not platform_matches(parse_platform("linux/amd64"), Platform(os="windows", architecture="amd64"))
    for bad in ("", "linux/amd64/v8/x", "linux//amd64", "linux/am d64", "../x"):
        with pytest.raises(InvalidSpecError, match="invalid platform"):
            parse_platform(bad)


def test_sniffing_manifest_or_index() -> None:
    m = load_manifest_or_index(_j(DOCKER_MANIFEST))
    assert isinstance(m, Manifest)
    oci_index = {"schemaVersion": 2, "manifests": []}  # mediaType is optional in OCI
    assert isinstance(load_manifest_or_index(_j(oci_index)), Index)
    oci_manifest = {k: v for k, v in DOCKER_MANIFEST.items() if k != "mediaType"}
    oci_manifest["config"] = {"mediaType": mt.OCI_CONFIG, "size": 2, "digest": A}
    oci_manifest["layers"] = [{"mediaType": mt.OCI_LAYER_ZSTD, "size": 2, "digest": B}]
    assert isinstance(load_manifest_or_index(_j(oci_manifest)), Manifest)
    # The Content-Type a registry sent must agree with the document.
    with pytest.raises(UnknownMediaTypeError, match="does not match"):
        load_manifest_or_index(_j(DOCKER_MANIFEST), mt.OCI_MANIFEST)
    with pytest.raises(UnknownMediaTypeError, match="'text/html' is not supported"):
        load_manifest_or_index(b"{}", "text/html")
    with pytest.raises(UnknownMediaTypeError, match="missing"):
        load_manifest_or_index(b"{}")


BAD_MANIFESTS = [
    ({**DOCKER_MANIFEST, "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "size": 1, "digest": "md5:" + "a" * 32}]},
     InvalidSpecError, "manifest: $.layers[0].digest: unsupported digest algorithm 'md5'"),
    ({**DOCKER_MANIFEST, "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "size": -1, "digest": B}]},
     InvalidSpecError, "manifest: $.layers[0].size: Expected `int` >= 0"),
    ({**DOCKER_MANIFEST, "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "size": "1", "digest": B}]},
     InvalidSpecError, "manifest: $.layers[0].size: Expected `int`, got `str`"),
    ({**DOCKER_MANIFEST, "config": {"size": 1, "digest": A}},
     InvalidSpecError, "manifest: $.config: Object missing required field `mediaType`"),
    ({**DOCKER_MANIFEST, "config": {"mediaType": "not a type", "size": 1, "digest": A}},
     InvalidSpecError, "manifest: $.config.mediaType: invalid media type 'not a type'"),
    ({**DOCKER_MANIFEST, "layers": [{"mediaType": "application/x-tar", "size": 1, "digest": B}]},
     UnknownMediaTypeError, "manifest: $.layers[0].mediaType: media type 'application/x-tar' is not supported"),
    ({**DOCKER_MANIFEST, "mediaType": mt.DOCKER_MANIFEST_LIST},
     UnknownMediaTypeError, "manifest: $.mediaType: media type 'application/vnd.docker.distribution.manifest.list.v2+json' is not supported"),
    ({"schemaVersion": 1, "name": "library/busybox", "tag": "latest", "fsLayers": []},
     UnknownMediaTypeError, "schema 1"),
    ({**DOCKER_MANIFEST, "mediaType": mt.DOCKER_SCHEMA1_SIGNED}, UnknownMediaTypeError, "schema 1"),
    ({**DOCKER_MANIFEST, "schemaVersion": 3}, InvalidSpecError, "$.schemaVersion: unsupported schema version 3"),
    ({k: v for k, v in DOCKER_MANIFEST.items() if k != "schemaVersion"},
     InvalidSpecError, "missing required field `schemaVersion`"),
    ([], InvalidSpecError, "manifest: $: Expected `object`, got `array`"),
]


@pytest.mark.parametrize(("doc", "error", "fragment"), BAD_MANIFESTS)
def test_bad_manifest_names_the_field(doc: object, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as e:
        load_manifest(_j(doc))
    assert fragment in str(e.value)


def test_malformed_json_and_other_loaders() -> None:
    with pytest.raises(InvalidSpecError, match="manifest: malformed JSON"):
        load_manifest(b"{not json")
    with pytest.raises(InvalidSpecError, match=r"index: \$\.manifests\[0\]\.digest"):
        load_index(_j({"schemaVersion": 2, "manifests": [{"mediaType": mt.OCI_MANIFEST, "size": 1, "digest": "sha256:zz"}]}))
    with pytest.raises(UnknownMediaTypeError, match=r"index: \$\.mediaType"):
        load_index(_j({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "manifests": []}))
    with pytest.raises(InvalidSpecError, match=r"image config: \$: Object missing required field `os`"):
        load_image_config(_j({"architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []}}))
    with pytest.raises(InvalidSpecError, match=r"image config: \$\.rootfs\.type: rootfs type 'zfs'"):
        load_image_config(_j({**DOCKER_CONFIG, "rootfs": {"type": "zfs", "diff_ids": []}}))
    with pytest.raises(InvalidSpecError, match=r"image config: \$\.rootfs\.diff_ids\[0\]: invalid sha256"):
        load_image_config(_j({**DOCKER_CONFIG, "rootfs": {"type": "layers", "diff_ids": ["sha256:1"]}}))
    with pytest.raises(InvalidSpecError, match=r"image config: \$\.config\.Cmd: Expected `array \| null`, got `str`"):
        load_image_config(_j({**DOCKER_CONFIG, "config": {"Cmd": "sh"}}))
    with pytest.raises(InvalidSpecError, match=r"descriptor: \$\.data: embedded data has digest"):
        load_descriptor(_j({"mediaType": mt.OCI_EMPTY, "digest": A, "size": 2, "data": "e30="}))
    with pytest.raises(InvalidSpecError, match=r"descriptor: \$\.data: embedded data is 2 bytes but size is 3"):
        load_descriptor(_j({"mediaType": mt.OCI_EMPTY, "digest": A, "size": 3, "data": "e30="}))
    assert load_layout_header(b'{"imageLayoutVersion": "1.0.0"}').image_layout_version == "1.0.0"
    with pytest.raises(InvalidSpecError, match="unsupported version '2.0.0'"):
        load_layout_header(b'{"imageLayoutVersion": "2.0.0"}')


def test_descriptor_of_and_load_verified() -> None:
    blob = b'{"architecture":"amd64"}'
    d = Descriptor.of(mt.OCI_CONFIG, blob)
    assert d.digest == digest_of(blob) and d.size == len(blob)
    assert load_verified(blob, d) is blob
    with pytest.raises(DigestMismatchError, match="bytes instead of"):
        load_verified(blob + b" ", d)
    with pytest.raises(DigestMismatchError, match="digest mismatch"):
        load_verified(blob.replace(b"amd", b"arm"), d)
    with pytest.raises(ValueError, match="digest: invalid sha256"):
        Descriptor(media_type=mt.OCI_CONFIG, digest="sha256:x", size=1)


def test_media_type_helpers() -> None:
    assert mt.layer_compression(mt.OCI_LAYER) == "none"
    assert mt.layer_compression(mt.OCI_LAYER_ZSTD) == "zstd"
    assert mt.layer_compression(mt.DOCKER_LAYER_FOREIGN_GZIP) == "gzip"
    assert mt.layer_compression(mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP) == "gzip"
    assert not mt.is_distributable(mt.DOCKER_LAYER_FOREIGN_GZIP)
    assert not mt.is_distributable(mt.OCI_LAYER_NONDISTRIBUTABLE)
    assert mt.is_distributable(mt.OCI_LAYER_GZIP)
    assert mt.layer_media_type("gzip", docker=True) == mt.DOCKER_LAYER_GZIP
    assert mt.layer_media_type("zstd") == mt.OCI_LAYER_ZSTD
    with pytest.raises(UnknownMediaTypeError, match="unknown layer media type 'application/x-foo'"):
        mt.layer_compression("application/x-foo")
    assert mt.is_valid("application/vnd.oci.image.manifest.v1+json")
    assert not mt.is_valid("application") and not mt.is_valid("a/b c")
