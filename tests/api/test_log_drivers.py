"""Log drivers ``local`` and ``none``, ``--log-opt``, attach with ``logs=1``:
real docker CLI and docker-py against a private daemon."""

from __future__ import annotations

import json
import os
import struct
import threading
import time

import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root

LINES = "i=0; while [ $i -lt 120 ]; do echo line-$i; i=$((i+1)); done; printf tail"


def _cid(d: Daemon, name: str) -> str:
    return json.loads(d.docker("inspect", name, check=True).stdout)[0]["Id"]


def test_local_driver_docker_format_rotation_and_compression(shared_daemon: Daemon,
                                                             unique: str) -> None:
    d = shared_daemon
    d.docker("run", "--name", unique, "--log-driver", "local", "--log-opt", "max-size=1k",
             "--log-opt", "max-file=3", "busybox", "sh", "-c", LINES, check=True)
    out = d.docker("logs", unique, check=True).stdout
    # rotation dropped the oldest; the newest lines and the unterminated tail remain
    assert out.endswith(b"line-119\ntail") and b"line-0\n" not in out, out[-200:]
    logs = os.path.join(d.root, "containers", _cid(d, unique), "local-logs")
    assert sorted(os.listdir(logs)) == ["container.log", "container.log.1.gz",
                                        "container.log.2.gz"]
    # Docker's framing, checked by hand: [len][LogEntry][len], source first
    with open(os.path.join(logs, "container.log"), "rb") as f:
        raw = f.read()
    (n,) = struct.unpack(">I", raw[:4])
    assert struct.unpack(">I", raw[4 + n:8 + n]) == (n,)
    assert raw[4:12] == b"\x0a\x06stdout" and b"\x1a\x08line-" in raw[4:4 + n]
    r = d.docker("logs", "--tail", "2", "-t", unique, check=True).stdout.splitlines()
    assert len(r) == 2 and r[0].endswith(b" line-119") and r[1].endswith(b" tail")
    d.docker("rm", unique, check=True)
    # compress=false: rotated files stay plain
    name = unique + "-plain"
    d.docker("run", "--name", name, "--log-driver", "local", "--log-opt", "max-size=1k",
             "--log-opt", "compress=false", "busybox", "sh", "-c", LINES, check=True)
    files = os.listdir(os.path.join(d.root, "containers", _cid(d, name), "local-logs"))
    assert "container.log.1" in files and not [f for f in files if f.endswith(".gz")]
    d.docker("rm", name, check=True)


def test_none_driver_and_bad_log_opts(shared_daemon: Daemon, unique: str) -> None:
    d = shared_daemon
    r = d.docker("run", "--name", unique, "--log-driver", "none", "busybox", "echo", "hi",
                 check=True)
    assert r.stdout == b"hi\n"  # attached output does not need a log
    r = d.docker("logs", unique)
    assert r.returncode != 0 and b"does not support reading" in r.stderr
    d.docker("rm", unique, check=True)
    before = d.docker("ps", "-aq").stdout
    for args, text in ((["--log-driver", "local", "--log-opt", "labels=a"],
                        b"unknown log opt 'labels' for local log driver"),
                       (["--log-driver", "local", "--log-opt", "compress=maybe"], b"maybe"),
                       (["--log-opt", "max-size=lots"], b"lots"),
                       (["--log-driver", "syslogish"], b"syslogish")):
        r = d.docker("run", "--rm", *args, "busybox", "true")
        assert r.returncode == 125 and text in r.stderr, (args, r.stderr)
    assert d.docker("ps", "-aq").stdout == before


def _frames(raw: bytes) -> list[tuple[int, bytes]]:
    out = []
    while raw:
        stream, n = raw[0], struct.unpack(">I", raw[4:8])[0]
        out.append((stream, raw[8:8 + n]))
        raw = raw[8 + n:]
    return out


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_attach_with_logs_replays_the_log(shared_daemon: Daemon, unique: str,
                                          driver: str) -> None:
    # The raw API: docker-py's attach reads the socket past its own buffered
    # reader, so a reply that follows the 101 at once can be lost there.
    d = shared_daemon
    d.docker("run", "--name", unique, "--log-driver", driver, "busybox", "sh", "-c",
             "echo out-1; echo err-1 >&2", check=True)
    with d.api() as api:
        def attach(query: str) -> list[tuple[int, bytes]]:
            r = api.post(f"/containers/{unique}/attach?stream=0&{query}")
            assert r.status_code == 200, r.text
            return _frames(r.content)

        assert attach("logs=1&stdout=1&stderr=1") == [(1, b"out-1\n"), (2, b"err-1\n")]
        assert attach("logs=1&stdout=1") == [(1, b"out-1\n")]
        assert attach("logs=0&stdout=1&stderr=1") == []
    d.docker("rm", unique, check=True)


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_logs_follow_started_while_writing_misses_nothing(shared_daemon: Daemon, unique: str,
                                                          driver: str) -> None:
    """``logs -f`` reads the file, then follows it: what was written between
    the two must come once, neither lost nor repeated."""
    d = shared_daemon
    name = f"{unique}-{driver}"
    n = 20000
    d.docker("run", "-d", "--name", name, "--log-driver", driver, "busybox", "sh", "-c",
             f"i=0; while [ $i -lt {n} ]; do echo n-$i; i=$((i+1)); done", check=True)
    outs: list[bytes] = []

    def follow() -> None:
        outs.append(d.docker("logs", "-f", name, check=True, timeout=120).stdout)

    try:
        # followers starting at different moments of the writing
        threads = [threading.Thread(target=follow) for _ in range(6)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        want = [f"n-{i}".encode() for i in range(n)]
        assert len(outs) == 6
        for out in outs:
            got = out.split()
            assert got == want, (len(got), next((i for i, (a, b) in enumerate(zip(got, want, strict=False))
                                                if a != b), None))
    finally:
        d.docker("rm", "-f", name)
