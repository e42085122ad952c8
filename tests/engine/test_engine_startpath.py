"""The supervisor's start path without helper forks (issue 4's create+start throughput).

With the C shim taking over, the supervisor runs the runtime's create and
start in its own process (``_in_process``) instead of a forked helper
(``_in_helper``); the zygote tells supervisors where the built shim is
(``_find_shim``) so they do not hash its source on every start. The
end-to-end path (containers started, then handed to the C shim) is covered
by test_engine_cshim.py; these pin the contracts the fast path must keep.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine import cshim, supervisor, zygote


def _fails() -> dict[str, Any]:
    raise ValueError("config.json: $.process: required")


def _works() -> dict[str, Any]:
    return {"pid": 42}


@pytest.mark.parametrize("fn", [_fails, _works])
def test_in_process_answers_exactly_like_the_helper(fn: Any) -> None:
    assert supervisor._in_process(fn) == supervisor._in_helper(fn)


def test_in_process_deadline_interrupts_a_stage_that_never_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "HELPER_TIMEOUT", 0.3)
    before = signal.getsignal(signal.SIGALRM)
    a, b = socket.socketpair()
    a.settimeout(20)  # without the deadline: fail (its own message), never hang
    cleaned: list[bool] = []

    def stuck() -> dict[str, Any]:
        try:
            a.recv(1)  # like a setup stage's sync read: nobody ever sends
        finally:
            cleaned.append(True)  # create's own error handling runs (it kills what it made)
        return {}

    try:
        t = time.monotonic()
        res = supervisor._in_process(stuck)
        took = time.monotonic() - t
    finally:
        a.close()
        b.close()
    assert res["ok"] is False and "did not finish within" in res["message"], res
    assert cleaned == [True]
    assert took < 30  # returned at the deadline, not never
    # Nothing left behind: no timer armed, the old handler back.
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) == before


def test_zygote_finds_the_shim_where_cshim_builds_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "shim"
    cache.mkdir()
    monkeypatch.setenv(cshim.MODE_ENV, "c")
    monkeypatch.setenv(cshim.CACHE_ENV, str(cache))
    monkeypatch.setattr(supervisor, "SHIM_AHEAD", None)
    monkeypatch.setattr(zygote, "_shim_path", "")
    zygote._find_shim()
    assert supervisor.SHIM_AHEAD is None  # not built yet: the first supervisor builds it
    # Stand in for the first supervisor's build: a file at the name the
    # zygote expects. cshim.binary() takes an existing file as built, so it
    # answering the same path proves the two agree on the name.
    Path(zygote._shim_path).write_bytes(b"")
    assert cshim.binary(str(cache)) == (zygote._shim_path, "")
    zygote._find_shim()
    assert supervisor.SHIM_AHEAD == (zygote._shim_path, "")
    assert supervisor._wanted_shim() == (zygote._shim_path, "")
    # Gone (a cache wiped under a running daemon): supervisors ask again
    # (here without a compiler on PATH, so the answer is why not, not a build).
    os.unlink(zygote._shim_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    path, why = supervisor._wanted_shim()
    assert path == "" and "gcc" in why


def test_python_mode_finds_nothing_ahead(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cshim.MODE_ENV, "python")
    monkeypatch.setenv(cshim.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(supervisor, "SHIM_AHEAD", None)
    monkeypatch.setattr(zygote, "_shim_path", "")
    zygote._find_shim()
    assert supervisor.SHIM_AHEAD is None
    assert supervisor._wanted_shim() == ("", "")
