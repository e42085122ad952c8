"""The stage graph: parallel stages, --target, skipped stages, cycles, missing stages."""

from __future__ import annotations

import time

import pytest

from dockyard.build.errors import StageError
from dockyard.build.progress import Progress


def test_independent_stages_build_in_parallel_and_unneeded_are_skipped(build, store, unique) -> None:  # type: ignore[no-untyped-def]
    progress = Progress()
    t0 = time.monotonic()
    r = build("stages", tags=[f"{unique}:final"], progress=progress)
    took = time.monotonic() - t0
    # two stages of one second each run at the same time: their RUN steps
    # overlap, and the whole build takes about one stage's time, not two
    # (the "unused" stage would fail the build if it ran)
    runs = [s for s in progress.steps if "sleep" in s.name]
    assert len(runs) == 2
    assert max(s.started for s in runs) < min(s.ended or 0 for s in runs)
    assert took > 1.0
    img = store.get(f"{unique}:final")
    hist = [h.created_by for h in img.config.history if h.created_by]
    assert "COPY --from=one /one / # buildkit" in hist and "COPY --from=1 /two / # buildkit" in hist
    assert r.run_steps == 5


def test_target_builds_only_what_it_needs(build, store, unique) -> None:  # type: ignore[no-untyped-def]
    r = build("stages", tags=[f"{unique}:two"], target="two", build_args={"SLEEP": "0"})
    assert r.run_steps == 1
    assert any("echo two" in (h.created_by or "") for h in store.get(f"{unique}:two").config.history)
    with pytest.raises(StageError, match="target stage 'nope' could not be found"):
        build("stages", target="nope")


@pytest.mark.parametrize("text, message", [
    ("FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n",
     "circular dependency detected on stage: b \\(b -> a -> b\\)"),
    ("FROM busybox AS a\nCOPY --from=a /x /x\n", "circular dependency detected on stage: a"),
    ("FROM busybox\nCOPY --from=7 /x /x\n", "stage index 7 out of range"),
    ("FROM busybox\nCOPY --from=nosuchstage /x /x\n", "not a stage of this Dockerfile and not an image"),
    ("FROM busybox\nRUN --mount=type=bind,from=ghost,target=/m true\n",
     "not a stage of this Dockerfile and not an image"),
])
def test_graph_errors(build, ctx, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StageError, match=message):
        build(ctx, dockerfile_text=text)
