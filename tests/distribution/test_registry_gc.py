"""Online garbage collection: unreferenced blobs go, referenced ones and
uploads in progress stay, while the server keeps serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _images import digest
from _regtools import Running
from test_registry_api import DOCKER_LIST, DOCKER_MANIFEST, image, push_blob, put_manifest


def gc_cli(reg: Running, *extra: str) -> str:
    p = subprocess.run(
        [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
         "garbage-collect", "--root", str(reg.root), *extra],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def blob_exists(reg: Running, d: str) -> bool:
    return (reg.root / "content" / "blobs" / "sha256" / d.split(":")[1]).exists()


def test_gc_removes_only_unreferenced_blobs(registry_factory: Callable[..., Running]) -> None:
    reg = registry_factory()
    with reg.client() as c:
        shared_layer = os.urandom(3000)
        keep, keep_type = image(c, "app/keep", docker=True, layer=shared_layer)
        assert put_manifest(c, "app/keep", "v1", keep, keep_type).status_code == 201
        drop, drop_type = image(c, "app/drop", docker=True, layer=shared_layer,
                                config_extra={"config": {"Cmd": ["drop"]}})
        assert put_manifest(c, "app/drop", "v1", drop, drop_type).status_code == 201
        drop_config = json.loads(drop)["config"]["digest"]
        orphan = push_blob(c, "app/orphan", os.urandom(1000))
        # A manifest list whose child is then deleted: the list still holds it.
        child, child_type = image(c, "app/multi", docker=True)
        put_manifest(c, "app/multi", digest(child), child, child_type)
        lst = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": digest(child), "size": len(child),
             "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
        assert put_manifest(c, "app/multi", "all", lst, DOCKER_LIST).status_code == 201
        assert c.delete(f"/v2/app/multi/manifests/{digest(child)}").status_code == 202
        assert c.delete(f"/v2/app/drop/manifests/{digest(drop)}").status_code == 202

        # Within the grace period only the deleted manifest goes; blobs pushed
        # lately (their manifest may be on its way) stay.
        out = gc_cli(reg)
        assert f"deleted {digest(drop)}" in out and "1 blobs deleted" in out
        assert blob_exists(reg, orphan) and blob_exists(reg, drop_config)

        out = gc_cli(reg, "--grace", "0")
        assert f"deleted {orphan}" in out and f"deleted {drop_config}" in out
        assert not blob_exists(reg, orphan) and not blob_exists(reg, drop_config)
        assert c.head(f"/v2/app/orphan/blobs/{orphan}").status_code == 404
        # Still served: the kept image, the shared layer, the list and its child's blobs.
        assert c.get("/v2/app/keep/manifests/v1").content == keep
        for d in (json.loads(keep)["config"]["digest"], digest(shared_layer)):
            assert c.get(f"/v2/app/keep/blobs/{d}").status_code == 200
        assert c.get("/v2/app/multi/manifests/all").content == lst
        for desc in [json.loads(child)["config"], *json.loads(child)["layers"]]:
            assert blob_exists(reg, desc["digest"])
        assert blob_exists(reg, digest(child))


def test_gc_never_loses_an_upload_in_progress(registry_factory: Callable[..., Running]) -> None:
    reg = registry_factory()
    stop = threading.Event()
    runs = [0]

    def collect_forever() -> None:
        while not stop.is_set():
            gc_cli(reg, "--grace", "0")
            runs[0] += 1

    collector = threading.Thread(target=collect_forever)
    collector.start()
    try:
        with reg.client() as c:
            datas = [os.urandom(150_000) for _ in range(4)]
            locs = [c.post("/v2/up/load/blobs/uploads/").headers["Location"] for _ in datas]
            for part in range(3):  # interleaved chunks, with GC passes in between
                for loc, data in zip(locs, datas, strict=True):
                    chunk = data[part * 50_000:(part + 1) * 50_000]
                    r = c.patch(loc, content=chunk,
                                headers={"Content-Range": f"{part * 50_000}-{(part + 1) * 50_000 - 1}"})
                    assert r.status_code == 202, r.text
                deadline = time.monotonic() + 20
                start = runs[0]
                while runs[0] < start + 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
            for loc, data in zip(locs, datas, strict=True):
                r = c.put(loc, params={"digest": digest(data)})
                assert r.status_code == 201, r.text  # every byte was kept
    finally:
        stop.set()
        collector.join()
    assert runs[0] >= 3


def test_periodic_gc_and_expired_uploads(registry_factory: Callable[..., Running]) -> None:
    reg = registry_factory({"storage": {"gc": {"interval": 0.3, "grace": 0},
                                        "uploads": {"ttl": 1}}})
    with reg.client() as c:
        orphan = push_blob(c, "p/q", os.urandom(500))
        loc = c.post("/v2/p/q/blobs/uploads/").headers["Location"]
        c.patch(loc, content=b"abandoned")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not blob_exists(reg, orphan) and c.get(loc).status_code == 404:
                break
            time.sleep(0.2)
        assert not blob_exists(reg, orphan)
        r = c.get(loc)
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
        assert list((reg.root / "content" / "ingest").iterdir()) == []


def test_gc_cli_on_a_bad_root(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text("storage: {gc: {grace: nope}}")
    p = subprocess.run(
        [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
         "garbage-collect", "--root", str(tmp_path), "--config", str(cfg)],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 125 and "storage.gc.grace" in p.stderr



def test_upload_survives_a_kill_9_of_the_server(tmp_path: Path) -> None:
    from _regtools import start_registry

    reg = start_registry(tmp_path / "reg")
    data = os.urandom(400_000)
    try:
        with reg.client() as c:
            image_body, mtype = image(c, "crash/app")
            loc = c.post("/v2/crash/app/blobs/uploads/").headers["Location"]
            assert c.patch(loc, content=data[:250_000]).status_code == 202
        reg.proc.kill()  # SIGKILL: no cleanup at all
        reg.proc.wait()
        reg = start_registry(tmp_path / "reg")  # same root, new port
        with reg.client() as c:
            st = c.get(loc)
            assert st.status_code == 204 and st.headers["Range"] == "0-249999"
            r = c.put(loc, params={"digest": digest(data)}, content=data[250_000:],
                      headers={"Content-Range": f"250000-{len(data) - 1}"})
            assert r.status_code == 201, r.text
            assert c.get(f"/v2/crash/app/blobs/{digest(data)}").content == data
            # Blobs pushed before the crash are still there for the manifest.
            assert put_manifest(c, "crash/app", "v1", image_body, mtype).status_code == 201
    finally:
        reg.stop()


def test_delete_untagged_keeps_what_tags_reach(registry_factory: Callable[..., Running]) -> None:
    reg = registry_factory()
    repo = "m/multi"
    with reg.client() as c:
        def push(tag: str | None, **kw: object) -> tuple[bytes, str]:
            body, mtype = image(c, repo, **kw)  # type: ignore[arg-type]
            assert put_manifest(c, repo, tag or digest(body), body, mtype).status_code == 201
            return body, mtype

        tagged, _ = push("v1", config_extra={"n": 1})
        loose, _ = push(None, config_extra={"n": 2})
        child, ctype = push(None, docker=True, config_extra={"n": 3})
        lst = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": digest(child), "size": len(child),
             "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
        assert put_manifest(c, repo, "multi", lst, DOCKER_LIST).status_code == 201
        subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json"}
        sig, _ = push(None, config_extra={"n": 4},
                      extra={"subject": {**subject, "digest": digest(tagged), "size": len(tagged)}})
        orphan_sig, _ = push(None, config_extra={"n": 5},
                             extra={"subject": {**subject, "digest": digest(loose), "size": len(loose)}})
        out = gc_cli(reg, "--delete-untagged", "--grace", "0")
        assert f"deleted manifest {repo}@{digest(loose)}" in out
        assert f"deleted manifest {repo}@{digest(orphan_sig)}" in out
        assert out.count("deleted manifest") == 2
        for kept in (tagged, child, lst, sig):
            assert c.get(f"/v2/{repo}/manifests/{digest(kept)}").status_code == 200
        for gone in (loose, orphan_sig):
            assert c.get(f"/v2/{repo}/manifests/{digest(gone)}").status_code == 404
            assert not blob_exists(reg, digest(gone))
            assert not blob_exists(reg, json.loads(gone)["config"]["digest"])
