"""Garbage collection by references and leases (containerd's model), on real files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dockyard.content import (
    LABEL_GC_REF_CONTENT,
    LABEL_GC_ROOT,
    LocalStore,
    write_blob,
)
from dockyard.content.errors import AlreadyExistsError, NotFoundError
from dockyard.oci.digest import Digest


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(str(tmp_path / "content"))
    yield s  # type: ignore[misc]
    s.close()


def _image(store: LocalStore, tag: str) -> dict[str, Digest]:
    """An index -> manifest -> (config, 2 layers) graph, linked by gc.ref labels
    the way the image store labels what it pulls or loads."""
    layer0 = write_blob(store, f"{tag}-l0", f"{tag} layer 0".encode() * 100).digest
    layer1 = write_blob(store, f"{tag}-l1", f"{tag} layer 1".encode() * 100).digest
    config = write_blob(store, f"{tag}-c", f"{tag} config".encode()).digest
    manifest = write_blob(
        store,
        f"{tag}-m",
        f"{tag} manifest".encode(),
        labels={
            f"{LABEL_GC_REF_CONTENT}.config": config,
            f"{LABEL_GC_REF_CONTENT}.l.0": layer0,
            f"{LABEL_GC_REF_CONTENT}.l.1": layer1,
        },
    ).digest
    index = write_blob(
        store, f"{tag}-i", f"{tag} index".encode(), labels={f"{LABEL_GC_REF_CONTENT}.m.0": manifest}
    ).digest
    return {"index": index, "manifest": manifest, "config": config, "l0": layer0, "l1": layer1}


def test_gc_keeps_rooted_graph_and_collects_the_rest(store: LocalStore) -> None:
    kept = _image(store, "kept")
    gone = _image(store, "gone")
    store.update_labels(kept["index"], {LABEL_GC_ROOT: "2024-01-01T00:00:00Z"})
    # A layer shared by both images stays while one of them does.
    store.update_labels(gone["manifest"], {f"{LABEL_GC_REF_CONTENT}.l.2": kept["l0"]})
    sizes = store.usage()
    result = store.gc()
    assert sorted(result.removed) == sorted(gone.values())
    assert result.bytes_freed == sum(sizes[d] for d in gone.values())
    assert {i.digest for i in store.list()} == set(kept.values())
    for d in gone.values():
        assert not os.path.exists(store.blob_path(d))
        with pytest.raises(NotFoundError):
            store.info(d)
    # Un-rooting collects the whole graph.
    store.update_labels(kept["index"], {LABEL_GC_ROOT: None})
    assert sorted(store.gc().removed) == sorted(kept.values())
    assert store.usage() == {} and store.gc().removed == []


def test_roots_passed_by_the_caller(store: LocalStore) -> None:
    img = _image(store, "a")
    # The image store passes its targets (the manifest here: the index goes).
    result = store.gc(roots=[img["manifest"]])
    assert result.removed == [img["index"]]
    assert set(store.usage()) == set(img.values()) - {img["index"]}


def test_bad_ref_labels_do_not_break_gc(store: LocalStore) -> None:
    d = write_blob(
        store, "r", b"x", labels={LABEL_GC_ROOT: "", f"{LABEL_GC_REF_CONTENT}.bad": "sha256:nothex"}
    ).digest
    assert store.gc().removed == [] and store.exists(d)


def test_lease_protects_until_deleted(store: LocalStore) -> None:
    lease = store.create_lease("pull-1", labels={"purpose": "test"})
    assert [le.id for le in store.list_leases()] == ["pull-1"]
    assert store.list_leases()[0].labels == {"purpose": "test"}
    leased = write_blob(store, "leased", b"held by a lease", lease=lease.id).digest
    w = store.writer("leased-writer", lease=lease.id)
    w.write(b"committed under lease")
    via_writer = w.commit().digest
    added = write_blob(store, "added", b"added later").digest
    store.add_to_lease(lease.id, added)
    loose = write_blob(store, "loose", b"nobody holds me").digest
    assert store.gc().removed == [loose]
    assert {leased, via_writer, added} <= set(store.usage())
    store.remove_from_lease(lease.id, added)
    assert store.gc().removed == [added]
    store.delete_lease(lease.id)
    assert sorted(store.gc().removed) == sorted([leased, via_writer])
    with pytest.raises(NotFoundError):
        store.delete_lease(lease.id)
    with pytest.raises(NotFoundError):
        store.add_to_lease("no-such-lease", leased)
    with pytest.raises(NotFoundError):
        store.writer("x", lease="no-such-lease")


def test_lease_takes_hold_of_content_that_already_exists(store: LocalStore) -> None:
    d = write_blob(store, "first", b"same bytes").digest
    lease = store.create_lease()
    with pytest.raises(AlreadyExistsError):
        store.create_lease(lease.id)
    assert write_blob(store, "second", b"same bytes", d, lease=lease.id).digest == d
    assert store.gc().removed == []


def test_expired_lease_is_dropped_and_its_content_collected(store: LocalStore) -> None:
    lease = store.create_lease(expires_in=0.05)
    d = write_blob(store, "r", b"short-lived", lease=lease.id).digest
    keep = store.create_lease("long", expires_in=3600)
    k = write_blob(store, "k", b"long-lived", lease=keep.id).digest
    time.sleep(0.1)
    result = store.gc()
    assert result.leases_expired == [lease.id] and result.removed == [d]
    assert [le.id for le in store.list_leases()] == ["long"] and store.exists(k)


def test_stale_ingests_are_collected_live_ones_kept(store: LocalStore) -> None:
    stale = store.writer("stale")
    stale.write(b"x" * 1000)
    stale.close()
    old = time.time() - 7200
    data = os.path.join(store.root, "ingest", os.listdir(os.path.join(store.root, "ingest"))[0], "data")
    os.utime(data, (old, old))
    fresh = store.writer("fresh")
    fresh.write(b"y")
    fresh.close()
    held = store.writer("held")  # a writer still at work
    held.write(b"z")
    lease = store.create_lease()
    leased = store.writer("leased", lease=lease.id)
    leased.write(b"w")
    leased.close()

    result = store.gc(ingest_cutoff=3600)
    assert result.ingests_removed == ["stale"] and result.bytes_freed == 1000
    assert sorted(s.ref for s in store.list_statuses()) == ["fresh", "held", "leased"]
    result = store.gc(ingest_cutoff=0)  # everything unheld goes
    assert result.ingests_removed == ["fresh"]
    held.write(b"z")
    assert held.commit().size == 2
    store.delete_lease(lease.id)
    assert store.gc(ingest_cutoff=0).ingests_removed == ["leased"]
    assert store.list_statuses() == []


def test_gc_forgets_records_of_vanished_files(store: LocalStore) -> None:
    d = write_blob(store, "r", b"x", labels={LABEL_GC_ROOT: "1"}).digest
    os.chmod(store.blob_path(d), 0o644)
    os.unlink(store.blob_path(d))
    store.gc()
    assert list(store.list()) == []
    with pytest.raises(NotFoundError):
        store.info(d)
