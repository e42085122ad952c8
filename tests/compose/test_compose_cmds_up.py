"""``up``: dependency levels in parallel, ``--abort-on-container-exit`` and
``--exit-code-from`` — through the real ``dockyard compose`` CLI against a
private daemon (``--bridge none``)."""

from __future__ import annotations

from typing import Any

from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)


def test_a_level_runs_in_parallel(compose: Any) -> None:  # noqa: F811
    c = compose("cmds_par")
    p = c.project
    c("up", "-d")
    slow, a, b = (c.inspect(f"{p}-{s}-1") for s in ("slow", "a", "b"))
    healthy_at = min(e["End"] for e in slow["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    # a waited for slow to be healthy; b, on the same level, did not wait for a
    assert a["State"]["StartedAt"] >= healthy_at[:26]
    assert b["State"]["StartedAt"] < healthy_at[:26], (b["State"]["StartedAt"], healthy_at)


def test_abort_on_container_exit_and_exit_code_from(compose: Any) -> None:  # noqa: F811
    c = compose("cmds_abort")
    p = c.project
    r = c("up", "--abort-on-container-exit", check=False)
    assert r.returncode == 5, r.stderr
    assert f"{p}-quick-1  | quick-done" in r.stdout and "Aborting on container exit" in r.stdout
    long = c.inspect(f"{p}-long-1")["State"]
    assert long["Running"] is False and long["ExitCode"] == 9

    r = c("up", "--exit-code-from", "long", check=False)
    assert r.returncode == 9, r.stderr
    assert c.inspect(f"{p}-long-1")["State"]["Running"] is False

    for args, message in ((("up", "--exit-code-from", "nosuch"), "no such service"),
                          (("up", "-d", "--abort-on-container-exit"), "incompatible")):
        r = c(*args, check=False)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
