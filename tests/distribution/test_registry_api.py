"""Each endpoint of the OCI distribution spec against a real ``dockyard registry``,
over raw HTTP (httpx): status codes, headers and bodies as the spec writes them."""

from __future__ import annotations

import json
import os
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from _images import digest
from _regtools import Running

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY = "application/vnd.oci.empty.v1+json"


@pytest.fixture
def c(registry: Running) -> httpx.Client:
    with registry.client() as client:
        yield client  # type: ignore[misc]


def repo_name(tag: str) -> str:
    return f"t/{tag}-{os.urandom(4).hex()}"


def push_blob(c: httpx.Client, repo: str, data: bytes) -> str:
    d = digest(data)
    r = c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=data,
               headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    return d


def image(c: httpx.Client, repo: str, *, docker: bool = False, layer: bytes | None = None,
          extra: dict[str, object] | None = None,
          config_extra: dict[str, object] | None = None) -> tuple[bytes, str]:
    """Push a config and a layer; return a manifest body (not pushed) and its media type."""
    layer = layer if layer is not None else os.urandom(2000)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
                         **(config_extra or {})}).encode()
    push_blob(c, repo, layer)
    push_blob(c, repo, config)
    mtype = DOCKER_MANIFEST if docker else OCI_MANIFEST
    doc = {"schemaVersion": 2, "mediaType": mtype,
           "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                      "digest": digest(config), "size": len(config)},
           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"
                       if docker else LAYER, "digest": digest(layer), "size": len(layer)}],
           **(extra or {})}
    return json.dumps(doc).encode(), mtype


def put_manifest(c: httpx.Client, repo: str, ref: str, body: bytes, mtype: str) -> httpx.Response:
    return c.put(f"/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": mtype})


def error_code(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["code"])


# --- base ----------------------------------------------------------------------------------


def test_base_endpoint(c: httpx.Client) -> None:
    r = c.get("/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert c.get("/v2").status_code == 200
    r = c.get("/v2/nope/what")
    assert r.status_code == 404


# --- blobs -----------------------------------------------------------------------------------


def test_monolithic_upload_head_get_range(c: httpx.Client) -> None:
    repo = repo_name("mono")
    data = os.urandom(100_000)
    d = push_blob(c, repo, data)
    h = c.head(f"/v2/{repo}/blobs/{d}")
    assert h.status_code == 200 and h.content == b""
    assert int(h.headers["Content-Length"]) == len(data)
    assert h.headers["Docker-Content-Digest"] == d
    g = c.get(f"/v2/{repo}/blobs/{d}")
    assert g.status_code == 200 and g.content == data
    assert g.headers["Docker-Content-Digest"] == d
    r = c.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = c.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=99990-"})
    assert r.status_code == 206 and r.content == data[99990:]
    r = c.get(f"/v2/{repo}/blobs/{d}", headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"


def test_post_then_put_upload(c: httpx.Client) -> None:
    repo = repo_name("postput")
    data = b"one request after the session"
    r = c.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202
    loc = r.headers["Location"]
    assert r.headers["Range"] == "0-0" and r.headers["Docker-Upload-UUID"] in loc
    r = c.put(loc, params={"digest": digest(data)}, content=data)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/v2/{repo}/blobs/{digest(data)}"
    assert c.get(f"/v2/{repo}/blobs/{digest(data)}").content == data
    # The session is gone once committed.
    assert c.get(loc).status_code == 404


def test_chunked_upload_status_and_resume(c: httpx.Client) -> None:
    repo = repo_name("chunked")
    data = os.urandom(300_000)
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    parts = [data[:100_000], data[100_000:250_000], data[250_000:]]
    offset = 0
    for part in parts[:2]:
        r = c.patch(loc, content=part, headers={
            "Content-Range": f"{offset}-{offset + len(part) - 1}",
            "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, r.text
        offset += len(part)
        assert r.headers["Range"] == f"0-{offset - 1}"
        loc = r.headers["Location"]
    s = c.get(loc)
    assert s.status_code == 204 and s.headers["Range"] == f"0-{offset - 1}"
    # The last chunk rides on the closing PUT.
    r = c.put(loc, params={"digest": digest(data)}, content=parts[2],
              headers={"Content-Range": f"{offset}-{len(data) - 1}"})
    assert r.status_code == 201, r.text
    assert c.get(f"/v2/{repo}/blobs/{digest(data)}").content == data


def test_streamed_patch_without_content_range(c: httpx.Client) -> None:
    repo = repo_name("stream")
    data = os.urandom(200_000)

    def gen():  # chunked transfer encoding, no Content-Length
        for i in range(0, len(data), 30_000):
            yield data[i:i + 30_000]

    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    r = c.patch(loc, content=gen())
    assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    assert c.put(loc, params={"digest": digest(data)}).status_code == 201


def test_interrupted_patch_resumes_from_what_arrived(registry: Running, c: httpx.Client) -> None:
    repo = repo_name("resume")
    data = os.urandom(500_000)
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    u = urlsplit(registry.url)
    # A PATCH announcing all of it, cut off after 200 000 bytes.
    with socket.create_connection((u.hostname, u.port)) as s:
        s.sendall(f"PATCH {loc} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                  f"Content-Length: {len(data)}\r\nContent-Range: 0-{len(data) - 1}\r\n\r\n".encode())
        s.sendall(data[:200_000])
    got = 0
    for _ in range(100):
        st = c.get(loc)
        assert st.status_code == 204
        got = int(st.headers["Range"].split("-")[1]) + 1
        if got == 200_000:
            break
        import time
        time.sleep(0.05)
    assert got == 200_000
    r = c.patch(loc, content=data[got:], headers={"Content-Range": f"{got}-{len(data) - 1}"})
    assert r.status_code == 202, r.text
    assert c.put(loc, params={"digest": digest(data)}).status_code == 201
    assert c.get(f"/v2/{repo}/blobs/{digest(data)}").content == data


def test_cancel_upload(registry: Running, c: httpx.Client) -> None:
    repo = repo_name("cancel")
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    c.patch(loc, content=b"x" * 1000)
    r = c.delete(loc)
    assert r.status_code == 204
    r = c.get(loc)
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    assert c.patch(loc, content=b"more").status_code == 404
    uuid = loc.rsplit("/", 1)[1]
    ingest = registry.root / "content" / "ingest"
    assert not any(uuid in (p / "ref").read_text() for p in ingest.iterdir() if (p / "ref").exists())


def test_cross_repository_mount(c: httpx.Client) -> None:
    src, dst = repo_name("src"), repo_name("dst")
    data = os.urandom(5000)
    d = push_blob(c, src, data)
    assert c.head(f"/v2/{dst}/blobs/{d}").status_code == 404
    r = c.post(f"/v2/{dst}/blobs/uploads/", params={"mount": d, "from": src})
    assert r.status_code == 201 and r.headers["Location"] == f"/v2/{dst}/blobs/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    assert c.get(f"/v2/{dst}/blobs/{d}").content == data
    # Mounting what the source lacks falls back to an upload session.
    other = digest(b"never pushed")
    r = c.post(f"/v2/{dst}/blobs/uploads/", params={"mount": other, "from": src})
    assert r.status_code == 202 and "/blobs/uploads/" in r.headers["Location"]


def test_blobs_are_per_repository_but_stored_once(registry: Running, c: httpx.Client) -> None:
    a, b = repo_name("a"), repo_name("b")
    data = os.urandom(4096)
    d = push_blob(c, a, data)
    # Knowing the digest is not enough to read it from another repository.
    r = c.get(f"/v2/{b}/blobs/{d}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"
    push_blob(c, b, data)
    files = list((registry.root / "content" / "blobs" / "sha256").glob(d.split(":")[1]))
    assert len(files) == 1 and files[0].stat().st_nlink == 1


def test_blob_delete(c: httpx.Client) -> None:
    repo = repo_name("del")
    d = push_blob(c, repo, b"delete me")
    assert c.delete(f"/v2/{repo}/blobs/{d}").status_code == 202
    r = c.head(f"/v2/{repo}/blobs/{d}")
    assert r.status_code == 404
    r = c.delete(f"/v2/{repo}/blobs/{d}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"


# --- manifests ------------------------------------------------------------------------------------


def test_manifest_put_get_head_delete_by_tag_and_digest(c: httpx.Client) -> None:
    repo = repo_name("man")
    body, mtype = image(c, repo)
    d = digest(body)
    r = put_manifest(c, repo, "v1", body, mtype)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    assert r.headers["Location"] == f"/v2/{repo}/manifests/{d}"
    for ref in ("v1", d):
        g = c.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": mtype})
        assert g.status_code == 200 and g.content == body
        assert g.headers["Content-Type"] == mtype and g.headers["Docker-Content-Digest"] == d
        h = c.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": mtype})
        assert h.status_code == 200 and h.content == b""
        assert int(h.headers["Content-Length"]) == len(body)
    # Deleting a tag leaves the manifest; deleting the digest removes it and its tags.
    put_manifest(c, repo, "v2", body, mtype)
    assert c.delete(f"/v2/{repo}/manifests/v2").status_code == 202
    assert c.get(f"/v2/{repo}/manifests/v2").status_code == 404
    assert c.get(f"/v2/{repo}/manifests/{d}").status_code == 200
    assert c.delete(f"/v2/{repo}/manifests/{d}").status_code == 202
    r = c.get(f"/v2/{repo}/manifests/v1")
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
    r = c.delete(f"/v2/{repo}/manifests/{d}")
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"


def test_docker_manifest_list_and_negotiation(c: httpx.Client) -> None:
    repo = repo_name("list")
    body, mtype = image(c, repo, docker=True)
    assert put_manifest(c, repo, digest(body), body, mtype).status_code == 201
    lst = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": digest(body), "size": len(body),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    r = put_manifest(c, repo, "multi", lst, DOCKER_LIST)
    assert r.status_code == 201, r.text
    g = c.get(f"/v2/{repo}/manifests/multi",
              headers={"Accept": f"{DOCKER_MANIFEST}, {DOCKER_LIST}"})
    assert g.status_code == 200 and g.headers["Content-Type"] == DOCKER_LIST and g.content == lst
    # A client that takes only single manifests is told, not handed a list.
    r = c.get(f"/v2/{repo}/manifests/multi", headers={"Accept": DOCKER_MANIFEST})
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
    # No Accept at all: served as stored.
    assert c.get(f"/v2/{repo}/manifests/multi").headers["Content-Type"] == DOCKER_LIST


def test_index_referencing_unknown_manifest(c: httpx.Client) -> None:
    repo = repo_name("idx")
    ghost = digest(b"no such manifest")
    idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": ghost, "size": 16}]}).encode()
    r = put_manifest(c, repo, "x", idx, OCI_INDEX)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"]["digest"] == ghost


def test_artifact_with_subject_and_referrers(c: httpx.Client) -> None:
    repo = repo_name("ref")
    body, mtype = image(c, repo)
    subject = digest(body)
    put_manifest(c, repo, "img", body, mtype)
    push_blob(c, repo, b"{}")
    sig_blob = b"signature bytes"
    push_blob(c, repo, sig_blob)

    def artifact(atype: str, note: str) -> bytes:
        return json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": atype,
            "config": {"mediaType": EMPTY, "digest": digest(b"{}"), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": digest(sig_blob),
                        "size": len(sig_blob)}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)},
            "annotations": {"note": note}}).encode()

    sig, sbom = artifact("application/vnd.example.sig", "a"), artifact("application/vnd.example.sbom", "b")
    for a in (sig, sbom):
        r = put_manifest(c, repo, digest(a), a, OCI_MANIFEST)
        assert r.status_code == 201, r.text
        assert r.headers["OCI-Subject"] == subject
    r = c.get(f"/v2/{repo}/referrers/{subject}")
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_INDEX
    idx = r.json()
    assert idx["schemaVersion"] == 2 and idx["mediaType"] == OCI_INDEX
    found = {m["digest"]: m for m in idx["manifests"]}
    assert set(found) == {digest(sig), digest(sbom)}
    assert found[digest(sig)] == {"mediaType": OCI_MANIFEST, "digest": digest(sig),
                                  "size": len(sig), "artifactType": "application/vnd.example.sig",
                                  "annotations": {"note": "a"}}
    r = c.get(f"/v2/{repo}/referrers/{subject}", params={"artifactType": "application/vnd.example.sbom"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [digest(sbom)]
    # An image manifest without artifactType is listed with its config's media type.
    img2, _ = image(c, repo, extra={"subject": {"mediaType": OCI_MANIFEST, "digest": subject,
                                                "size": len(body)}})
    put_manifest(c, repo, digest(img2), img2, OCI_MANIFEST)
    r = c.get(f"/v2/{repo}/referrers/{subject}", params={"artifactType": OCI_CONFIG})
    assert [m["digest"] for m in r.json()["manifests"]] == [digest(img2)]
    # Nothing refers to this one: an empty index, never 404.
    r = c.get(f"/v2/{repo}/referrers/{digest(b'nothing')}")
    assert r.status_code == 200 and r.json()["manifests"] == []
    r = c.get(f"/v2/{repo}/referrers/sha256:nothex")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


# --- listings -----------------------------------------------------------------------------------


def test_tags_list_pagination(c: httpx.Client) -> None:
    repo = repo_name("tags")
    body, mtype = image(c, repo)
    tags = ["b", "a", "c", "latest", "1.0", "Z_"]
    for t in tags:
        assert put_manifest(c, repo, t, body, mtype).status_code == 201
    r = c.get(f"/v2/{repo}/tags/list")
    assert r.json() == {"name": repo, "tags": sorted(tags)}
    assert "Link" not in r.headers
    seen: list[str] = []
    url = f"/v2/{repo}/tags/list?n=4"
    while url:
        r = c.get(url)
        assert r.status_code == 200
        seen += r.json()["tags"]
        link = r.headers.get("Link")
        url = link.split(";")[0].strip("<>") if link else ""
        assert len(r.json()["tags"]) <= 4
    assert seen == sorted(tags)
    r = c.get(f"/v2/{repo}/tags/list", params={"n": 2, "last": "a"})
    assert r.json()["tags"] == ["b", "c"]
    r = c.get(f"/v2/{repo}/tags/list", params={"n": "-1"})
    assert r.status_code == 400
    r = c.get(f"/v2/{repo_name('none')}/tags/list")
    assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"


def test_catalog_pagination(registry: Running, c: httpx.Client) -> None:
    prefix = f"cat{os.urandom(3).hex()}"
    names = [f"{prefix}/r{i}" for i in range(5)]
    for n in names:
        body, mtype = image(c, n)
        put_manifest(c, n, "t", body, mtype)
    every: list[str] = []
    url = "/v2/_catalog?n=2"
    while url:
        r = c.get(url)
        assert r.status_code == 200 and len(r.json()["repositories"]) <= 2
        every += r.json()["repositories"]
        link = r.headers.get("Link")
        url = link.split(";")[0].strip("<>") if link else ""
    assert every == sorted(every) and set(names) <= set(every)


def test_method_not_allowed(c: httpx.Client) -> None:
    r = c.post("/v2/some/repo/manifests/latest")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"


def test_concurrent_pushes_of_one_blob(registry: Running) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = os.urandom(2 << 20)
    d = digest(data)
    repos = [repo_name(f"race{i}") for i in range(6)]

    def one(repo: str) -> int:
        with registry.client() as c:
            loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
            c.patch(loc, content=data)
            return c.put(loc, params={"digest": d}).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(one, repos)) == [201] * 6
    with registry.client() as c:
        for repo in repos:
            assert c.get(f"/v2/{repo}/blobs/{d}").content == data
    assert (registry.root / "content" / "blobs" / "sha256" / d[7:]).stat().st_size == len(data)


def test_deletion_can_be_disabled(registry_factory) -> None:  # type: ignore[no-untyped-def]
    reg = registry_factory({"storage": {"delete": {"enabled": False}}})
    with reg.client() as c:
        body, mtype = image(c, "keep/it")
        assert put_manifest(c, "keep/it", "v1", body, mtype).status_code == 201
        for path in ("/v2/keep/it/manifests/v1", f"/v2/keep/it/manifests/{digest(body)}",
                     f"/v2/keep/it/blobs/{json.loads(body)['config']['digest']}"):
            r = c.delete(path)
            assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
        assert c.get("/v2/keep/it/manifests/v1").status_code == 200
