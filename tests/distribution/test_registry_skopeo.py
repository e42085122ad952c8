"""``dockyard registry`` driven by a client nobody here wrote: Debian's skopeo.

Push and pull round-trip byte for byte (OCI and Docker v2 schema 2), and
``inspect``, ``list-tags``, ``delete`` and registry-to-registry copies
(cross-repository mounts) work, without auth, with htpasswd, with the token
flow, and over TLS."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _images import layout_blobs
from _regtools import Running, skopeo
from test_registry_auth import ACCESS, ALICE, BOB, self_signed, write_htpasswd

pytestmark = pytest.mark.slow

NO_TLS = ("--tls-verify=false",)


def push(layout: Path, dest: str, *extra: str) -> None:
    skopeo("copy", "--dest-tls-verify=false", *extra, f"oci:{layout}:latest", dest)


def test_skopeo_push_inspect_pull_delete(
    registry: Running, busybox_layout: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    layout, digests = busybox_layout
    ref = f"docker://{registry.host}/library/busybox"
    push(layout, f"{ref}:1.36")
    push(layout, f"{ref}:latest")
    info = json.loads(skopeo("inspect", *NO_TLS, f"{ref}:1.36").stdout)
    assert info["Digest"] == digests["manifest"]
    assert info["Layers"] == [digests["layer0"]]
    assert info["Architecture"] == "amd64" and sorted(info["RepoTags"]) == ["1.36", "latest"]
    raw = skopeo("inspect", "--raw", *NO_TLS, f"{ref}:1.36").stdout.encode()
    assert raw == layout_blobs(layout)[digests["manifest"]]
    tags = json.loads(skopeo("list-tags", *NO_TLS, ref).stdout)
    assert tags["Tags"] == ["1.36", "latest"]
    # Pull back: every blob byte-identical, the manifest digest kept.
    out = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", f"{ref}:1.36", f"oci:{out}:x")
    assert layout_blobs(out) == layout_blobs(layout)
    # Registry to registry, another repository: the layer is mounted, not re-sent.
    skopeo("copy", *("--src-tls-verify=false", "--dest-tls-verify=false"),
           f"{ref}:1.36", f"docker://{registry.host}/mirror/busybox:copy")
    copied = json.loads(skopeo("inspect", *NO_TLS,
                               f"docker://{registry.host}/mirror/busybox:copy").stdout)
    assert copied["Digest"] == digests["manifest"]
    # Delete by tag resolves to the manifest and removes it (and its tags).
    skopeo("delete", *NO_TLS, f"{ref}:1.36")
    gone = skopeo("inspect", *NO_TLS, f"{ref}:latest", check=False)
    assert gone.returncode != 0 and "manifest unknown" in gone.stderr
    assert json.loads(skopeo("list-tags", *NO_TLS, ref).stdout)["Tags"] == []


def test_skopeo_docker_v2s2_round_trip(
    registry: Running, busybox_layout: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    layout, _ = busybox_layout
    ref = f"docker://{registry.host}/docker/busybox:v2s2"
    push(layout, ref, "--format", "v2s2")
    raw = json.loads(skopeo("inspect", "--raw", *NO_TLS, ref).stdout)
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    archive = tmp_path / "busybox.tar"
    skopeo("copy", "--src-tls-verify=false", ref, f"docker-archive:{archive}:busybox:v2s2")
    # And back in from the docker-archive, under a new tag: same manifest digest.
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{archive}",
           f"docker://{registry.host}/docker/busybox:again")
    first = json.loads(skopeo("inspect", *NO_TLS, ref).stdout)
    again = json.loads(skopeo("inspect", *NO_TLS,
                              f"docker://{registry.host}/docker/busybox:again").stdout)
    assert first["Layers"] == again["Layers"]


@pytest.mark.parametrize("mode", ["htpasswd", "token"])
def test_skopeo_with_auth(
    mode: str, registry_factory: Callable[..., Running],
    busybox_layout: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    users = write_htpasswd(tmp_path / "htpasswd")
    auth: dict[str, object] = {"htpasswd": {"path": str(users)}, "access": ACCESS}
    if mode == "token":
        auth["token"] = {"service": "skopeo-test"}
    reg = registry_factory({"auth": auth})
    layout, digests = busybox_layout
    ref = f"docker://{reg.host}/alice/busybox:1"
    alice = f"{ALICE[0]}:{ALICE[1]}"
    denied = skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", ref, check=False)
    assert denied.returncode != 0
    assert any(w in denied.stderr.lower() for w in ("authentication required", "unauthorized", "401"))
    push(layout, ref, "--dest-creds", alice)
    info = json.loads(skopeo("inspect", *NO_TLS, "--creds", alice, ref).stdout)
    assert info["Digest"] == digests["manifest"]
    tags = json.loads(skopeo("list-tags", *NO_TLS, "--creds", alice,
                             f"docker://{reg.host}/alice/busybox").stdout)
    assert tags["Tags"] == ["1"]
    out = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", alice, ref, f"oci:{out}:x")
    assert layout_blobs(out) == layout_blobs(layout)
    # Bob may not read alice's repositories, nor push where he may only pull.
    bob = f"{BOB[0]}:{BOB[1]}"
    p = skopeo("inspect", *NO_TLS, "--creds", bob, ref, check=False)
    assert p.returncode != 0
    p = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", bob, f"oci:{layout}:latest",
               f"docker://{reg.host}/shared/busybox:1", check=False)
    assert p.returncode != 0
    push(layout, f"docker://{reg.host}/bob/busybox:1", "--dest-creds", bob)
    skopeo("delete", *NO_TLS, "--creds", alice, ref)
    assert skopeo("inspect", *NO_TLS, "--creds", alice, ref, check=False).returncode != 0


def test_skopeo_over_tls(registry_factory: Callable[..., Running],
                         busybox_layout: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "pki")
    reg = registry_factory(args=("--tls-cert", str(cert), "--tls-key", str(key)))
    certs = tmp_path / "certs.d"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(cert.read_bytes())
    layout, digests = busybox_layout
    ref = f"docker://{reg.host}/secure/busybox:1"
    skopeo("copy", "--dest-cert-dir", str(certs), f"oci:{layout}:latest", ref)
    info = json.loads(skopeo("inspect", "--cert-dir", str(certs), ref).stdout)
    assert info["Digest"] == digests["manifest"]
    # Without trusting the certificate, skopeo refuses the server.
    assert skopeo("inspect", ref, check=False).returncode != 0
