"""The local content store on real files: verified writes that leave nothing
when wrong, resumable ingests, concurrent writers, labels, reads."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dockyard.content import LocalStore, write_blob
from dockyard.content.errors import (
    AlreadyExistsError,
    DigestMismatchError,
    IngestLockedError,
    InvalidArgumentError,
    NotFoundError,
    SizeMismatchError,
    VerificationError,
)
from dockyard.oci.digest import digest_of
from dockyard.oci.errors import DigestMismatchError as OCIDigestMismatchError

DATA = os.urandom(3 << 20) + b"tail"  # a few MiB so that writes bypass the buffer too


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(str(tmp_path / "content"))
    yield s  # type: ignore[misc]
    s.close()


def _leftovers(s: LocalStore) -> list[str]:
    """Every file under blobs/ and ingest/ (metadata.db and gc.lock aside)."""
    out = []
    for sub in ("blobs", "ingest"):
        for dirpath, _dirs, files in os.walk(os.path.join(s.root, sub)):
            out += [os.path.join(dirpath, f) for f in files]
    return out


def test_write_read_ranges_and_info(store: LocalStore) -> None:
    d = digest_of(DATA)
    with store.writer("layer-1", d, len(DATA)) as w:
        for i in range(0, len(DATA), 100_000):
            w.write(DATA[i : i + 100_000])
        assert w.offset == len(DATA) and w.digest() == d
        info = w.commit()
    assert info.digest == d and info.size == len(DATA)
    path = store.blob_path(d)
    assert path == os.path.join(store.root, "blobs", "sha256", d.encoded)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == d.encoded
    assert os.stat(path).st_mode & 0o222 == 0  # published read-only
    assert store.read(d) == DATA
    assert store.read(d, 10, 5) == DATA[10:15]
    assert store.read(d, len(DATA) - 2) == b"il"
    assert store.read(d, len(DATA)) == b""
    with store.open(d) as f:
        f.seek(1 << 20)
        assert f.read(4) == DATA[1 << 20 : (1 << 20) + 4]
    with pytest.raises(InvalidArgumentError, match="past the end"):
        store.read(d, len(DATA) + 1)
    assert store.info(d).size == len(DATA) and store.exists(d)
    assert [i.digest for i in store.list()] == [d]
    assert store.usage() == {d: len(DATA)}
    assert _leftovers(store) == [path]  # the ingest is gone


def test_sha512_blob(store: LocalStore) -> None:
    d = digest_of(b"x" * 100, "sha512")
    info = write_blob(store, "r", b"x" * 100, d)
    assert info.digest == d and os.path.exists(os.path.join(store.root, "blobs", "sha512", d.encoded))
    assert store.read(d) == b"x" * 100


def test_digest_mismatch_leaves_nothing(store: LocalStore) -> None:
    wrong = digest_of(b"something else")
    w = store.writer("bad", wrong, len(DATA))
    w.write(DATA)
    with pytest.raises(DigestMismatchError) as e:
        w.commit()
    assert isinstance(e.value, VerificationError) and isinstance(e.value, OCIDigestMismatchError)
    assert e.value.expected == wrong and e.value.actual == digest_of(DATA)
    assert _leftovers(store) == [] and list(store.list()) == [] and store.list_statuses() == []
    with pytest.raises(NotFoundError):
        store.status("bad")
    # Expected digest given only at commit: checked too.
    w = store.writer("bad2")
    w.write(b"abc")
    with pytest.raises(DigestMismatchError):
        w.commit(expected=wrong)
    assert _leftovers(store) == []


def test_size_mismatch_leaves_nothing(store: LocalStore) -> None:
    # Too many bytes: refused on the write that crosses the size.
    w = store.writer("big", size=10)
    w.write(b"12345")
    with pytest.raises(SizeMismatchError, match="unexpected size 11, expected 10"):
        w.write(b"123456")
    assert _leftovers(store) == []
    with pytest.raises(InvalidArgumentError, match="closed"):
        w.write(b"x")
    # Too few: refused at commit.
    w = store.writer("small", digest_of(b"12345678"), 8)
    w.write(b"1234")
    with pytest.raises(SizeMismatchError, match="unexpected size 4, expected 8"):
        w.commit()
    assert _leftovers(store) == [] and list(store.list()) == []


def test_resume_after_writer_is_dropped(store: LocalStore, tmp_path: Path) -> None:
    d = digest_of(DATA)
    half = len(DATA) // 2
    w = store.writer("pull-layer", d, len(DATA))
    w.write(DATA[:half])
    w.status()  # flushes: what a status reports is on disk
    del w
    gc.collect()  # the dropped writer's file closes and its lock goes with it
    st = store.status("pull-layer")
    assert st.offset == half and st.total == len(DATA) and st.expected == d
    # A new store object (a restarted process) resumes from the same offset.
    other = LocalStore(store.root)
    w2 = other.writer("pull-layer")  # expectations come back from the ingest
    assert w2.offset == half
    w2.write(DATA[half:])
    info = w2.commit()
    assert info.digest == d and other.read(d) == DATA
    assert other.list_statuses() == [] and _leftovers(other) == [other.blob_path(d)]
    other.close()


def test_resume_refuses_other_expectations(store: LocalStore) -> None:
    w = store.writer("r", digest_of(b"abc"), 3)
    w.write(b"a")
    w.close()
    with pytest.raises(InvalidArgumentError, match="was started for sha256:"):
        store.writer("r", digest_of(b"xyz"), 3)
    with pytest.raises(InvalidArgumentError, match="was started for 3 bytes, not 4"):
        store.writer("r", size=4)
    assert store.status("r").offset == 1  # untouched


def test_write_blob_resumes_from_a_stream(store: LocalStore, tmp_path: Path) -> None:
    d = digest_of(DATA)
    w = store.writer("stream", d, len(DATA))
    w.write(DATA[: 1 << 20])
    w.close()
    src = tmp_path / "src"
    src.write_bytes(DATA)
    with open(src, "rb") as f:
        info = write_blob(store, "stream", f, d, len(DATA), labels={"k": "v"})
    assert info.digest == d and info.labels == {"k": "v"} and store.read(d) == DATA
    # Already there: not an error; labels are merged in.
    again = write_blob(store, "other", DATA, d, labels={"k2": "v2"})
    assert again.labels == {"k": "v", "k2": "v2"}
    with pytest.raises(AlreadyExistsError):
        store.writer("third", d)
    # A non-seekable source is skipped through by reading.
    d2 = digest_of(b"0123456789" * 1000)
    w = store.writer("pipe", d2)
    w.write(b"0123456789" * 10)
    w.close()
    r, wfd = os.pipe()
    os.write(wfd, b"0123456789" * 1000)
    os.close(wfd)
    with os.fdopen(r, "rb") as f:
        assert write_blob(store, "pipe", f, d2).digest == d2


def test_same_ref_is_locked_against_a_second_writer(store: LocalStore) -> None:
    w = store.writer("one")
    w.write(b"abc")
    with pytest.raises(IngestLockedError, match="'one' is locked"):
        store.writer("one")
    with pytest.raises(IngestLockedError):
        store.abort("one")
    w.close()
    store.abort("one")
    with pytest.raises(NotFoundError):
        store.abort("one")
    assert _leftovers(store) == []


def test_concurrent_writers_of_one_blob_threads(store: LocalStore) -> None:
    d = digest_of(DATA)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def run(i: int) -> None:
        w = store.writer(f"t{i}", d, len(DATA))
        barrier.wait()
        for j in range(0, len(DATA), 65536):
            w.write(DATA[j : j + 65536])
        try:
            w.commit()
            results.append("won")
        except AlreadyExistsError:
            results.append("exists")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["exists"] * 3 + ["won"]
    assert store.read(d) == DATA
    assert _leftovers(store) == [store.blob_path(d)]


WRITER = """
import sys
from dockyard.content import LocalStore
from dockyard.content.errors import AlreadyExistsError
root, ref, digest, path = sys.argv[1:5]
data = open(path, "rb").read()
s = LocalStore(root)
w = s.writer(ref, digest, len(data))
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
for i in range(0, len(data), 65536):
    w.write(data[i:i + 65536])
try:
    w.commit()
    print("won")
except AlreadyExistsError:
    print("exists")
"""


def test_concurrent_writers_of_one_blob_processes(store: LocalStore, tmp_path: Path) -> None:
    d = digest_of(DATA)
    src = tmp_path / "blob"
    src.write_bytes(DATA)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store.root, f"p{i}", d, str(src)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    outs = [p.communicate("go\n", timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outs) == ["exists", "won"]
    assert store.read(d) == DATA and _leftovers(store) == [store.blob_path(d)]


def test_labels_round_trip_and_persist(store: LocalStore) -> None:
    d = write_blob(store, "r", b"manifest", labels={"a": "1", "b": "2"}).digest
    assert store.info(d).labels == {"a": "1", "b": "2"}
    assert store.update_labels(d, {"b": None, "c": "3"}).labels == {"a": "1", "c": "3"}
    assert store.set_labels(d, {"z": "26"}).labels == {"z": "26"}
    assert [i.digest for i in store.list({"z": None})] == [d]
    assert [i.digest for i in store.list({"z": "26"})] == [d]
    assert list(store.list({"z": "27"})) == [] and list(store.list({"a": None})) == []
    reopened = LocalStore(store.root)
    assert reopened.info(d).labels == {"z": "26"}
    reopened.close()
    with pytest.raises(InvalidArgumentError, match="exceed 4096 bytes"):
        store.update_labels(d, {"big": "x" * 5000})
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        store.update_labels(d, {"": "x"})
    assert store.info(d).labels == {"z": "26"}  # a refused update changed nothing
    with pytest.raises(NotFoundError):
        store.update_labels(digest_of(b"nope"), {"a": "b"})


def test_delete_and_not_found(store: LocalStore) -> None:
    d = write_blob(store, "r", b"gone soon").digest
    store.delete(d)
    assert not store.exists(d) and list(store.list()) == []
    for call in (store.info, store.delete, store.read, store.open):
        with pytest.raises(NotFoundError):
            call(d)


def test_unrecorded_blob_is_adopted_and_junk_ignored(store: LocalStore) -> None:
    # What a crash between link(2) and the metadata insert leaves behind.
    d = digest_of(b"orphan")
    Path(store.blob_path(d)).write_bytes(b"orphan")
    Path(store.root, "blobs", "sha256", "not-a-digest").write_bytes(b"junk")
    assert store.info(d).size == 6 and store.info(d).labels == {}
    assert [i.digest for i in store.list()] == [d]


@pytest.mark.parametrize(
    "digest",
    ["sha256:../../etc/passwd", "sha256:" + "A" * 64, "md5:" + "a" * 32, "/etc/passwd", ""],
)
def test_bad_digests_never_become_paths(store: LocalStore, digest: str) -> None:
    with pytest.raises(InvalidArgumentError):
        store.blob_path(digest)
    with pytest.raises(InvalidArgumentError):
        store.info(digest)
    with pytest.raises(InvalidArgumentError):
        store.writer("r", digest)
    assert _leftovers(store) == []


def test_refs_cannot_escape_the_ingest_dir(store: LocalStore, tmp_path: Path) -> None:
    before = set(os.listdir(tmp_path))
    for ref in ("../../escape", "/abs/path", "a/b/c", "..", "x" * 4000):
        w = store.writer(ref)
        w.write(b"data")
        w.close()
        assert store.status(ref).offset == 4
    assert set(os.listdir(tmp_path)) == before
    assert sorted(s.ref for s in store.list_statuses()) == sorted(
        ["../../escape", "/abs/path", "a/b/c", "..", "x" * 4000]
    )
    for bad in ("", "x" * 5000, "a\0b"):
        with pytest.raises(InvalidArgumentError, match="invalid ingest ref"):
            store.writer(bad)
    with pytest.raises(InvalidArgumentError, match="non-negative"):
        store.writer("neg", size=-1)


@settings(max_examples=25, deadline=None, database=None)
@given(
    data=st.binary(min_size=1, max_size=300_000),
    cuts=st.lists(st.floats(0, 1), max_size=4),
    step=st.integers(1, 70_000),
)
@example(data=b"\x00", cuts=[1.0], step=1)  # a cut at the very end is no interruption
@example(data=b"abc", cuts=[0.0, 0.0], step=2)
def test_any_sequence_of_interruptions_yields_the_same_blob(
    data: bytes, cuts: list[float], step: int
) -> None:
    """Write in chunks, drop the writer at arbitrary points, resume each time:
    the committed blob is always exactly the content."""
    root = tempfile.mkdtemp(prefix="dy-prop-", dir="/tmp")
    try:
        s = LocalStore(root)
        d = digest_of(data)
        stops = sorted({int(c * len(data)) for c in cuts} - {len(data)}) + [len(data)]
        for stop in stops:
            w = s.writer("prop", d, len(data))
            pos = w.offset
            while pos < stop:
                pos += w.write(data[pos : min(stop, pos + step)])
            if stop < len(data):
                w.close()
                assert s.status("prop").offset == stop
        assert w.commit().digest == d and s.read(d) == data
        assert s.list_statuses() == []
        s.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_write_range_copies_out_of_a_file(store: LocalStore, tmp_path: Path) -> None:
    # ``docker load -i``: a blob copied by offset out of an archive, after some bytes
    # written the ordinary way; the digest covers what landed in the ingest.
    src = tmp_path / "archive"
    src.write_bytes(b"H" * 1000 + DATA + b"T" * 7)
    want = digest_of(b"pre" + DATA)
    with open(src, "rb") as f, store.writer("range-1", want, len(DATA) + 3, durable=False) as w:
        w.write(b"pre")
        assert w.write_range(f.fileno(), 1000, len(DATA)) == len(DATA)
        info = w.commit()
    store.sync()
    assert info.digest == want and store.read(want) == b"pre" + DATA
    assert store.list_statuses() == []


def test_write_range_refuses_bad_ranges_and_leaves_nothing(store: LocalStore, tmp_path: Path) -> None:
    src = tmp_path / "archive"
    src.write_bytes(DATA)
    with open(src, "rb") as f:
        with store.writer("range-2", size=10) as w, pytest.raises(SizeMismatchError):
            w.write_range(f.fileno(), 0, 11)  # more than the expected size
        with store.writer("range-3") as w, pytest.raises(OSError, match="ended inside the range"):
            w.write_range(f.fileno(), len(DATA) - 5, 10)  # past the end of the file
        wrong = digest_of(b"something else")
        with store.writer("range-4", wrong) as w:
            w.write_range(f.fileno(), 0, len(DATA))
            with pytest.raises(DigestMismatchError):
                w.commit()
    assert store.list_statuses() == [] and list(store.list()) == []
    assert os.listdir(os.path.join(store.root, "ingest")) == []
