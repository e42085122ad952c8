"""Bad input to the registry: each gets the spec's status and error code, a
message naming what was wrong, and leaves nothing stored."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from _images import digest
from _regtools import Running
from test_registry_api import (
    OCI_CONFIG,
    OCI_MANIFEST,
    error_code,
    image,
    push_blob,
    put_manifest,
    repo_name,
)


@pytest.fixture
def c(registry: Running) -> httpx.Client:
    with registry.client() as client:
        yield client  # type: ignore[misc]


def blob_files(root: Path) -> set[str]:
    base = root / "content" / "blobs"
    return {f"{p.parent.name}:{p.name}" for p in base.glob("*/*")}


def ingests(root: Path) -> set[str]:
    return {(p / "ref").read_text() for p in (root / "content" / "ingest").iterdir()
            if (p / "ref").exists()}


def raw(registry: Running, request: bytes) -> bytes:
    u = urlsplit(registry.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_manifest_referencing_missing_blobs(registry: Running, c: httpx.Client) -> None:
    repo = repo_name("missing")
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    push_blob(c, repo, config)
    layer = os.urandom(100)  # never pushed
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                   "digest": digest(layer), "size": 100}]}).encode()
    before = blob_files(registry.root)
    r = put_manifest(c, repo, "v1", body, OCI_MANIFEST)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"] == {"digest": digest(layer)}
    assert digest(layer) in r.json()["errors"][0]["message"]
    assert blob_files(registry.root) == before
    assert c.get(f"/v2/{repo}/manifests/v1").status_code == 404
    assert c.get(f"/v2/{repo}/tags/list").json()["tags"] == []
    # A blob that is in the registry, but in another repository, does not count.
    other = repo_name("other")
    push_blob(c, other, layer)
    r = put_manifest(c, repo, "v1", body, OCI_MANIFEST)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"


def test_manifest_with_wrong_blob_size(c: httpx.Client) -> None:
    repo = repo_name("size")
    body, mtype = image(c, repo)
    doc = json.loads(body)
    doc["layers"][0]["size"] += 1
    r = put_manifest(c, repo, "v1", json.dumps(doc).encode(), mtype)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID"
    assert "size" in r.json()["errors"][0]["message"]


def test_blob_digest_mismatch_stores_nothing(registry: Running, c: httpx.Client) -> None:
    repo = repo_name("mismatch")
    data = os.urandom(50_000)
    wrong = digest(b"something else")
    before = blob_files(registry.root)
    r = c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": wrong}, content=data)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert wrong in r.json()["errors"][0]["message"]
    # Chunked, then a closing PUT with the wrong digest.
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    assert c.patch(loc, content=data).status_code == 202
    r = c.put(loc, params={"digest": wrong})
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert c.get(loc).status_code == 404  # the session is gone
    assert blob_files(registry.root) == before
    assert not any(loc.rsplit("/", 1)[1] in ref for ref in ingests(registry.root))
    assert c.head(f"/v2/{repo}/blobs/{digest(data)}").status_code == 404
    # The closing PUT must name a digest, and a well-formed one.
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    r = c.put(loc)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    r = c.put(loc, params={"digest": "md5:abc"})
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


def test_manifest_digest_reference_mismatch(registry: Running, c: httpx.Client) -> None:
    repo = repo_name("mdig")
    body, mtype = image(c, repo)
    wrong = digest(body + b" ")
    r = put_manifest(c, repo, wrong, body, mtype)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert f"sha256:{hashlib.sha256(body).hexdigest()}" not in blob_files(registry.root)


@pytest.mark.parametrize("tag", ["bad!tag", "-leading", ".dot", "x" * 129, "sp%20ace"])
def test_invalid_tag(registry: Running, c: httpx.Client, tag: str) -> None:
    repo = repo_name("tag")
    body, mtype = image(c, repo)
    r = put_manifest(c, repo, tag, body, mtype)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID"
    assert "invalid tag" in r.json()["errors"][0]["message"]
    assert digest(body) not in blob_files(registry.root)
    assert c.get(f"/v2/{repo}/tags/list").json()["tags"] == []


@pytest.mark.parametrize("name", ["Upper/case", "a/-b", "a__-b", "a//b", "a/", "-a", "a.", "x" * 256])
def test_invalid_repository_name(c: httpx.Client, name: str) -> None:
    r = c.post(f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 400 and error_code(r) == "NAME_INVALID"


def test_path_traversal_is_refused(registry: Running, c: httpx.Client) -> None:
    d = push_blob(c, repo_name("trav"), b"secret")
    for path in (f"/v2/a/../../blobs/{d}", "/v2/a/%2e%2e/b/blobs/" + d,
                 "/v2/x/blobs/sha256:..%2f..%2f..%2fetc%2fpasswd", "/v2/x/blobs/..%2f..%2fregistry.db"):
        out = raw(registry, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        status = int(out.split(b" ", 2)[1])
        assert status in (400, 404), (path, out[:200])
        assert b"secret" not in out and b"SQLite" not in out


def test_chunk_with_a_gap_or_overlap(registry: Running, c: httpx.Client) -> None:
    repo = repo_name("gap")
    data = os.urandom(3000)
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    assert c.patch(loc, content=data[:1000], headers={"Content-Range": "0-999"}).status_code == 202
    r = c.patch(loc, content=data[1500:2000], headers={"Content-Range": "1500-1999"})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    assert "gap" in r.json()["errors"][0]["message"]
    assert r.headers["Range"] == "0-999"  # where to resume
    r = c.patch(loc, content=data[500:1500], headers={"Content-Range": "500-1499"})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    assert c.get(loc).headers["Range"] == "0-999"  # nothing was written
    r = c.patch(loc, content=data[1000:], headers={"Content-Range": f"1000-{len(data) - 1}"})
    assert r.status_code == 202
    assert c.put(loc, params={"digest": digest(data)}).status_code == 201


def test_content_range_beyond_the_end(c: httpx.Client) -> None:
    repo = repo_name("beyond")
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    # The range claims more bytes than the body carries.
    r = c.patch(loc, content=b"x" * 100, headers={"Content-Range": "0-4999"})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    for bad in ("5-2", "abc", "0-"):
        r = c.patch(loc, content=b"x", headers={"Content-Range": bad})
        assert r.status_code == 416 and error_code(r) == "RANGE_INVALID", bad
    st = c.get(loc)
    assert st.status_code == 204 and st.headers["Range"] == "0-0"
    # And on a blob: a range starting past the end.
    d = push_blob(c, repo, b"0123456789")
    r = c.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=10-20"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */10"


def test_oversized_manifest(registry: Running, c: httpx.Client) -> None:
    repo = repo_name("big")
    body, mtype = image(c, repo)
    doc = json.loads(body)
    doc["annotations"] = {"pad": "x" * (4 << 20)}
    big = json.dumps(doc).encode()
    r = put_manifest(c, repo, "big", big, mtype)
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    assert digest(big) not in blob_files(registry.root)

    def chunks():  # no Content-Length: the cap holds while streaming
        for i in range(0, len(big), 1 << 20):
            yield big[i:i + (1 << 20)]

    r = c.put(f"/v2/{repo}/manifests/big", content=chunks(), headers={"Content-Type": mtype})
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    assert c.get(f"/v2/{repo}/manifests/big").status_code == 404


@pytest.mark.parametrize("body,ctype,needle", [
    (b"{not json", OCI_MANIFEST, "malformed JSON"),
    (b'{"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}',
     "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}',
     OCI_MANIFEST, "does not match"),
    (b'{"schemaVersion": 2, "config": {"mediaType": "x/y", "digest": "sha256:1", "size": 1}}',
     OCI_MANIFEST, "config.digest"),
])
def test_invalid_manifest(c: httpx.Client, body: bytes, ctype: str, needle: str) -> None:
    r = put_manifest(c, repo_name("inv"), "v1", body, ctype)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID"
    assert needle in r.json()["errors"][0]["message"], r.json()


def test_unknown_uploads_and_blobs(c: httpx.Client) -> None:
    repo, other = repo_name("u"), repo_name("v")
    r = c.get(f"/v2/{repo}/blobs/uploads/no-such-uuid")
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    uuid = loc.rsplit("/", 1)[1]
    # An upload belongs to its repository.
    r = c.patch(f"/v2/{other}/blobs/uploads/{uuid}", content=b"x")
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    r = c.get(f"/v2/{repo}/blobs/{digest(b'never')}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"
    r = c.get(f"/v2/{repo}/blobs/sha256:{'A' * 64}")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


def test_sha512_blobs(c: httpx.Client) -> None:
    repo = repo_name("sha512")
    data = os.urandom(1000)
    d = "sha512:" + hashlib.sha512(data).hexdigest()
    r = c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=data)
    assert r.status_code == 201, r.text
    assert c.get(f"/v2/{repo}/blobs/{d}").content == data
