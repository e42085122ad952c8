"""``up`` walks the dependency graph: a service starts once its own dependencies
are done, not once its whole dependency level is — through the real ``dockyard
compose`` CLI against a private daemon (``--bridge none``)."""

from __future__ import annotations

from typing import Any

from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)


def test_a_service_does_not_wait_for_its_levels_slow_neighbour(compose: Any) -> None:  # noqa: F811
    c = compose("up_graph")
    p = c.project
    c("up", "-d")
    got = {s: c.inspect(f"{p}-{s}-1") for s in ("slow", "slowdep", "fast", "quick", "late")}
    healthy_at = min(e["End"] for e in got["slow"]["State"]["Health"]["Log"]
                     if e["ExitCode"] == 0)[:26]
    started = {s: d["State"]["StartedAt"][:26] for s, d in got.items()}
    # the dependency order holds ...
    assert started["slowdep"] >= healthy_at
    assert started["fast"] <= started["quick"] <= started["late"]
    # ... and late (level 2) did not wait for slowdep (level 1), nor for slow
    assert started["late"] < healthy_at, (started, healthy_at)
    assert all(d["State"]["Running"] for d in got.values())
