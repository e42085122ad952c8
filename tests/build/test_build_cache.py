"""The build cache: hits, partial reruns, .dockerignore, --no-cache(-filter), cache mounts, prune."""

from __future__ import annotations

import glob
import os
import time

from _buildtools import copy_folder

from dockyard.build import Builder, BuildOptions


def _count(builder: Builder) -> int:
    files = glob.glob(os.path.join(builder.root, "cache-mounts", "*", "count"))
    assert len(files) == 1
    with open(files[0]) as f:
        return len(f.read().splitlines())


def test_cache_hits_reruns_and_prune(builder, store, ctx, unique) -> None:  # type: ignore[no-untyped-def]
    copy_folder("cache", ctx)

    def b(**kw):  # type: ignore[no-untyped-def]
        return builder.build(BuildOptions(context=str(ctx), tags=[f"{unique}:c"], **kw))

    r = b()
    assert (r.run_steps, r.cached_steps) == (4, 0)
    assert _count(builder) == 1
    first = store.get(f"{unique}:c")

    t0 = time.monotonic()
    r = b()
    assert (r.run_steps, r.cached_steps) == (0, 4)  # nothing changed: no step runs
    assert _count(builder) == 1
    assert time.monotonic() - t0 < 10  # loose: the step counts above are the real check
    assert store.get(f"{unique}:c").diff_ids == first.diff_ids

    (ctx / "ignored.txt").write_text("changed, but .dockerignore'd\n")
    r = b()
    assert (r.run_steps, r.cached_steps) == (0, 4)

    (ctx / "b.txt").write_text("b2\n")  # only COPY . and what follows rerun
    r = b()
    assert (r.run_steps, r.cached_steps) == (2, 2)
    assert store.get(f"{unique}:c").diff_ids[:-2] == first.diff_ids[:-2]
    assert store.get(f"{unique}:c").diff_ids[-1] != first.diff_ids[-1]

    r = b(no_cache=True)
    assert (r.run_steps, r.cached_steps) == (4, 0)
    assert _count(builder) == 2  # the cache mount persisted across builds

    r = b(no_cache_filter=["main"])
    assert r.run_steps == 4

    # records are persisted (a new Builder on the same root hits them) with usage
    again = Builder(store, builder.root)
    try:
        r = again.build(BuildOptions(context=str(ctx), tags=[f"{unique}:c"]))
        assert r.run_steps == 0
    finally:
        again.close()
    records = builder.du()
    assert records and max(rec.usage_count for rec in records) >= 1
    assert all(rec.size > 0 and rec.digest.startswith("sha256:") for rec in records)

    dropped, _ = builder.prune(all=False, until=3600)
    assert dropped == []  # all used just now
    dropped, _ = builder.prune(all=False, keep_storage=0)
    assert len(dropped) == len(records) and builder.du() == []
    r = b()
    assert r.run_steps == 4


def test_default_cap_bounds_the_cache(store, ctx, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    copy_folder("cache", ctx)
    b = Builder(store, str(tmp_path / "capped"), cap=1)  # 1 byte: GC after a build keeps nothing
    try:
        b.build(BuildOptions(context=str(ctx), tags=[f"{unique}:cap"]))
        assert b.du() == []
        assert store.get(f"{unique}:cap")  # the image is not affected
    finally:
        b.close()


def test_locked_cache_mount_serialises_parallel_steps(build, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    build("cachemount", tags=[f"{unique}:lock"], outputs=[{"type": "local", "dest": str(tmp_path / "out")}])
    log = (tmp_path / "out" / "log").read_text().split()
    # the two stages ran in parallel but never inside the locked mount together
    assert sorted(log) == ["a-end", "a-start", "b-end", "b-start"]
    assert log[0].split("-")[0] == log[1].split("-")[0]
    assert log[2].split("-")[0] == log[3].split("-")[0]


def test_cache_from_an_image(store, ctx, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    copy_folder("cache", ctx)
    first = Builder(store, str(tmp_path / "b1"))
    try:
        first.build(BuildOptions(context=str(ctx), tags=[f"{unique}:src"]))
    finally:
        first.close()
    fresh = Builder(store, str(tmp_path / "b2"))  # no cache records of its own
    try:
        r = fresh.build(BuildOptions(context=str(ctx), tags=[f"{unique}:cf"], cache_from=[f"{unique}:src"]))
        # the RUNs come from the image; the COPYs run (their history lines do not
        # name their content) and give the same layers, so the last RUN matches
        assert (r.run_steps, r.cached_steps) == (2, 2)
        assert store.get(f"{unique}:cf").diff_ids == store.get(f"{unique}:src").diff_ids
        (ctx / "b.txt").write_text("different\n")
        r = fresh.build(BuildOptions(context=str(ctx), tags=[f"{unique}:cf2"], cache_from=[f"{unique}:src"],
                                     no_cache_filter=[]))
        # the first RUN and COPY a.txt hit this builder's records now; COPY . runs
        # (b.txt changed) and the last RUN no longer matches the image's layers
        assert (r.run_steps, r.cached_steps) == (2, 2)
        assert store.get(f"{unique}:cf2").diff_ids[-1] not in store.get(f"{unique}:src").diff_ids
    finally:
        fresh.close()
