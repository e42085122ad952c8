"""Layers that attack: each must be refused, naming the entry, with nothing
outside the destination changed. Plus corrupt, truncated and bomb layers."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
import zstandard
from isal import igzip, isal_zlib
from snapshot_helpers import Entry, make_tar, tree_state

from dockyard.snapshot import Limits, apply_layer
from dockyard.snapshot.errors import CorruptLayerError, LayerTooLargeError, UnsafeEntryError

pytestmark = pytest.mark.needs_root

SYM, LNK, DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE


@pytest.fixture
def arena(tmp_path: Path) -> tuple[Path, Path]:
    """(dest, outside): an empty destination beside a directory that must
    never change, holding a file worth stealing."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    (outside / "passwd").write_text("root:x:0:0")
    dest = tmp_path / "root"
    dest.mkdir()
    return dest, outside


def _attacks(outside: str) -> dict[str, tuple[list[Entry], str]]:
    """name -> (entries, the entry the error must name)."""
    return {
        "dotdot": ([Entry("../outside/secret", data=b"pwned")], "../outside/secret"),
        "dotdot-inner": ([Entry("a/../../outside/x", data=b"p")], "a/../../outside/x"),
        "absolute": ([Entry(outside + "/secret", data=b"pwned")], outside + "/secret"),
        "symlink-abs-then-write": (
            [Entry("link", type=SYM, linkname=outside), Entry("link/passwd", data=b"pwned")],
            "link/passwd",
        ),
        "symlink-rel-then-write": (
            [Entry("link", type=SYM, linkname="../outside"), Entry("link/secret", data=b"p")],
            "link/secret",
        ),
        "symlink-root-then-write": (
            [Entry("link", type=SYM, linkname="/"),
             Entry("link" + outside + "/new", data=b"p")],
            "link" + outside + "/new",
        ),
        "symlink-chain": (
            [Entry("b", type=SYM, linkname=outside), Entry("a", type=SYM, linkname="b"),
             Entry("a/new", data=b"p")],
            "a/new",
        ),
        "symlink-then-dir": (
            [Entry("link", type=SYM, linkname=outside), Entry("link/sub", type=DIR)],
            "link/sub",
        ),
        "symlink-then-symlink-inside": (
            [Entry("link", type=SYM, linkname=outside),
             Entry("link/evil", type=SYM, linkname="/etc/shadow")],
            "link/evil",
        ),
        "hardlink-dotdot": (
            [Entry("hl", type=LNK, linkname="../outside/secret")], "hl"
        ),
        "hardlink-absolute": ([Entry("hl", type=LNK, linkname=outside + "/secret")], "hl"),
        "hardlink-through-symlink": (
            [Entry("link", type=SYM, linkname=outside),
             Entry("hl", type=LNK, linkname="link/secret")],
            "hl",
        ),
        "whiteout-dotdot": ([Entry(".wh..")], ".wh.."),
        "whiteout-escaping": ([Entry("../outside/.wh.secret")], "../outside/.wh.secret"),
        "whiteout-through-symlink": (
            [Entry("link", type=SYM, linkname=outside), Entry("link/.wh.secret")],
            "link/.wh.secret",
        ),
        "opaque-through-symlink": (
            [Entry("link", type=SYM, linkname=outside), Entry("link/.wh..wh..opq")],
            "link/.wh..wh..opq",
        ),
    }


ATTACKS = sorted(_attacks("/x"))


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("whiteouts", ["delete", "overlay"])
def test_attack_is_refused(attack: str, whiteouts: str, arena: tuple[Path, Path]) -> None:
    dest, outside = arena
    entries, culprit = _attacks(str(outside))[attack]
    before = tree_state(str(outside), dir_mtimes=True)
    with pytest.raises(UnsafeEntryError) as e:
        apply_layer(io.BytesIO(make_tar(entries)), str(dest), whiteouts=whiteouts)  # type: ignore[arg-type]
    assert e.value.entry == culprit
    assert repr(culprit) in str(e.value)
    assert tree_state(str(outside), dir_mtimes=True) == before
    assert not os.path.exists("/x")


def test_symlink_from_an_earlier_layer_is_not_followed(arena: tuple[Path, Path]) -> None:
    dest, outside = arena
    apply_layer(io.BytesIO(make_tar([Entry("etc", type=SYM, linkname=str(outside))])), str(dest))
    before = tree_state(str(outside), dir_mtimes=True)
    for entries in (
        [Entry("etc/passwd", data=b"pwned")],
        [Entry("etc/.wh.secret")],
        [Entry("etc/.wh..wh..opq")],
    ):
        with pytest.raises(UnsafeEntryError, match="symlink"):
            apply_layer(io.BytesIO(make_tar(entries)), str(dest))
    assert tree_state(str(outside), dir_mtimes=True) == before
    # Whiting out the link itself removes the link, not what it points to.
    apply_layer(io.BytesIO(make_tar([Entry(".wh.etc")])), str(dest))
    assert os.listdir(dest) == [] and tree_state(str(outside), dir_mtimes=True) == before


def test_symlink_in_a_lower_layer_is_not_followed_on_overlay(
    arena: tuple[Path, Path], tmp_path: Path
) -> None:
    dest, outside = arena
    lower = tmp_path / "lower"
    lower.mkdir()
    os.symlink(str(outside), lower / "etc")
    os.mkdir(lower / "usr")
    os.symlink("/", lower / "usr" / "up")
    before = tree_state(str(outside), dir_mtimes=True)
    for entries, culprit in (
        ([Entry("etc/passwd", data=b"pwned")], "etc/passwd"),
        ([Entry("usr/up/tmp/x", data=b"p")], "usr/up/tmp/x"),
    ):
        with pytest.raises(UnsafeEntryError) as e:
            apply_layer(io.BytesIO(make_tar(entries)), str(dest), whiteouts="overlay",
                        lowers=[str(lower)])
        assert e.value.entry == culprit
    assert tree_state(str(outside), dir_mtimes=True) == before
    assert not os.path.exists(dest / "etc")


def test_hardlink_to_a_symlink_links_the_symlink(arena: tuple[Path, Path]) -> None:
    dest, outside = arena
    before = tree_state(str(outside), dir_mtimes=True)
    apply_layer(io.BytesIO(make_tar([
        Entry("link", type=SYM, linkname=str(outside / "secret")),
        Entry("hl", type=LNK, linkname="link"),
    ])), str(dest))
    assert os.readlink(dest / "hl") == str(outside / "secret")
    assert os.lstat(dest / "hl").st_ino == os.lstat(dest / "link").st_ino
    assert tree_state(str(outside), dir_mtimes=True) == before
    assert os.lstat(outside / "secret").st_nlink == 1


def test_hardlink_to_a_file_not_in_the_layer_is_refused(arena: tuple[Path, Path]) -> None:
    dest, _ = arena
    (dest / "old").write_text("from a lower layer")
    with pytest.raises(UnsafeEntryError, match="not a file earlier in this layer"):
        apply_layer(io.BytesIO(make_tar([Entry("hl", type=LNK, linkname="old")])), str(dest))


# --- corrupt, truncated, bombs -------------------------------------------------------

def _two_files() -> bytes:
    return make_tar([Entry("a", data=b"A" * 3000), Entry("b", data=b"B" * 3000)])


def test_truncated_inside_file_data(tmp_path: Path) -> None:
    raw = _two_files()
    with pytest.raises(CorruptLayerError, match="truncated"):
        apply_layer(io.BytesIO(raw[:512 + 1000]), str(tmp_path))


def test_truncated_at_a_header_boundary(tmp_path: Path) -> None:
    raw = _two_files()
    # Header of "a" (pax header + ustar header = 1024? no pax here: 512) +
    # 3000 bytes of data padded to 3072: cut right after, before "b".
    cut = 512 + 3072
    with pytest.raises(CorruptLayerError, match="truncated"):
        apply_layer(io.BytesIO(raw[:cut]), str(tmp_path))


def test_corrupt_header_in_the_middle(tmp_path: Path) -> None:
    raw = bytearray(_two_files())
    raw[512 + 3072 + 148 : 512 + 3072 + 156] = b"9999999\x00"  # bad checksum of "b"
    with pytest.raises(CorruptLayerError, match="corrupt"):
        apply_layer(io.BytesIO(bytes(raw)), str(tmp_path))


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(CorruptLayerError):
        apply_layer(io.BytesIO(os.urandom(4096)), str(tmp_path))


@pytest.mark.parametrize("how", ["gzip", "zstd"])
def test_truncated_and_corrupt_compressed(how: str, tmp_path: Path) -> None:
    # Compressible data: corruption then hits entropy-coded blocks, which the
    # decoder checks (raw/stored blocks would decode to wrong bytes that
    # only the diff ID comparison of the image layer catches).
    text = b"".join(b"line %d of a config file\n" % i for i in range(5000))
    raw = make_tar([Entry("a", data=text)])
    blob = igzip.compress(raw) if how == "gzip" else zstandard.ZstdCompressor().compress(raw)
    (tmp_path / "t").mkdir()
    with pytest.raises(CorruptLayerError, match=how):
        apply_layer(io.BytesIO(blob[: len(blob) - 20]), str(tmp_path / "t"), media_type=how)
    bad = bytearray(blob)
    bad[len(bad) // 2 : len(bad) // 2 + 64] = b"\xAA" * 64
    (tmp_path / "c").mkdir()
    with pytest.raises(CorruptLayerError):
        apply_layer(io.BytesIO(bytes(bad)), str(tmp_path / "c"), media_type=how)


def _zero_bomb(how: str, size: int) -> bytes:
    """A tar holding one file of ``size`` zero bytes, compressed: tiny."""
    header = tarfile.TarInfo("bomb")
    header.size = size
    head = header.tobuf(tarfile.PAX_FORMAT)
    chunk = b"\0" * (1 << 20)
    if how == "gzip":
        c = isal_zlib.compressobj(3, isal_zlib.DEFLATED, 31)
        parts = [c.compress(head)] + [c.compress(chunk) for _ in range(size >> 20)]
        return b"".join(parts) + c.flush()
    z = zstandard.ZstdCompressor().compressobj()
    parts = [z.compress(head)] + [z.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + z.flush()


@pytest.mark.parametrize("how", ["gzip", "zstd"])
def test_decompression_bomb_is_bounded(how: str, tmp_path: Path) -> None:
    blob = _zero_bomb(how, 256 << 20)
    assert len(blob) < 2 << 20
    (tmp_path / "d").mkdir()
    with pytest.raises(LayerTooLargeError, match="limit of 8388608"):
        apply_layer(io.BytesIO(blob), str(tmp_path / "d"), limits=Limits(max_bytes=8 << 20))
    # The partial file is bounded by the limit too.
    assert os.path.getsize(tmp_path / "d" / "bomb") <= 8 << 20


def test_entry_count_limit(tmp_path: Path) -> None:
    raw = make_tar([Entry(f"f{i}") for i in range(300)])
    with pytest.raises(LayerTooLargeError, match="more than 100 entries"):
        apply_layer(io.BytesIO(raw), str(tmp_path), limits=Limits(max_entries=100))
    assert len(os.listdir(tmp_path)) == 100
