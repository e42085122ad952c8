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
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import Daemon

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


def _attach_stdin(sock_path: str, cid: str) -> socket.socket:
    """A hijacked attach (stdin, stdout) before the start, as ``docker run -i`` makes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(f"POST /containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
              "Host: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
              .encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def _read_stdout(s: socket.socket) -> bytes:
    """The multiplexed stream (no tty) until EOF: stdout's bytes."""
    buf, out = b"", bytearray()
    while chunk := s.recv(65536):
        buf += chunk
        while len(buf) >= 8:
            size = struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            if buf[0] == 1:
                out += buf[8:8 + size]
            buf = buf[8 + size:]
    return bytes(out)


@pytest.mark.needs_root
def test_stdin_written_during_the_start_keeps_its_order(daemon: Daemon, unique: str) -> None:
    """Input that reaches an attach while the container starts goes to it in order: before,
    what came before the start was sent last (overtaken by what came during the start) and
    an end of input during it cut the rest off."""
    api = daemon.api()
    r = api.post("/containers/create", params={"name": unique}, json={
        "Image": "busybox", "Cmd": ["cat"], "OpenStdin": True, "StdinOnce": True,
        "AttachStdin": True, "HostConfig": {"NetworkMode": "none"}})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    s = _attach_stdin(daemon.sock, cid)
    lines = [f"line {i:05d}\n".encode() for i in range(3000)]
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(_read_stdout(s)))
    reader.start()

    def write() -> None:
        for i, line in enumerate(lines):
            s.sendall(line)
            if i % 10 == 0:
                time.sleep(0.001)  # ~0.3 s of input, straddling the start
        s.shutdown(socket.SHUT_WR)

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.05)  # some input before the start
    assert api.post(f"/containers/{cid}/start").status_code == 204
    writer.join(30)
    reader.join(30)
    assert out, "no output"
    got = out[0].splitlines(keepends=True)
    assert got == lines, (len(got), got[:3], next((i for i, (a, b) in enumerate(zip(got, lines, strict=False))
                                                  if a != b), None))
    api.delete(f"/containers/{cid}", params={"force": "1"})
