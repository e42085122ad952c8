"""Build options past the 8 KiB request line: the daemon reads a request line and headers
of up to 1 MiB as Docker's does (a 400 naming the limit past it), so ``compose build``
sends a 200 KiB secret and a 60 KiB build arg through ``POST /build``'s query; the secret
reaches its ``RUN --mount=type=secret`` and nothing of the image holds it."""

from __future__ import annotations

import hashlib
import secrets
import socket
from typing import Any

from test_compose_up_build import _image_id, _saved_bytes
from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)


def test_large_secret_and_build_arg_reach_the_build(compose: Any,  # noqa: F811
                                                    tmp_path: Any) -> None:
    c = compose("build_large")
    p = c.project
    value = secrets.token_hex(100 * 1024).encode()  # 200 KiB
    (tmp_path / "big").write_bytes(value)
    c.env.update(BIG_SECRET_FILE=str(tmp_path / "big"), LONG_ARG=secrets.token_hex(30000))
    try:
        c("build")
        r = c("run", "--rm", "-T", "big")
        assert r.stdout.split() == [hashlib.sha256(value).hexdigest(), "60000"], r.stderr

        # the secret is in no layer, nor the history, nor the config
        saved = _saved_bytes(c, f"{p}-big")
        assert b"/digest" in saved  # the check sees into the layers
        pieces = [value, value[:64], value[len(value) // 2:][:64], value[-64:]]
        assert not [x for x in pieces if x in saved]
        with c.d.api() as api:
            text = api.get(f"/images/{p}-big/history").text + \
                api.get(f"/images/{p}-big/json").text
        assert "sha256sum" in text and not [x for x in pieces if x.decode() in text]

        # past what an engine reads: compose says so before sending anything
        image = _image_id(c, f"{p}-big")
        (tmp_path / "big").write_bytes(b"x" * (900 * 1024))  # 1.2 MiB in base64
        r = c("build", check=False)
        assert r.returncode != 0 and "service 'big': the build's options (build args, " \
            "labels, secrets) take" in r.stderr and "more than the 1044480 an engine " \
            "reads" in r.stderr, r.stderr
        assert _image_id(c, f"{p}-big") == image
    finally:
        with c.d.api() as api:
            api.delete(f"/images/{p}-big")


def _raw(sock_path: str, target: str, headers: str = "") -> tuple[int, bytes]:
    """One HTTP/1.1 request over the daemon's socket, as bytes (httpx caps URLs at 64 KiB)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(sock_path)
        try:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: docker\r\n{headers}"
                      f"Connection: close\r\n\r\n".encode())
        except BrokenPipeError:
            pass  # refused part-way: the answer was written before the daemon closed
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data.partition(b"\r\n\r\n")[2]


def test_request_line_and_header_limits(daemon: Any) -> None:  # noqa: F811
    sock = daemon.sock
    # far past aiohttp's 8190 bytes, within Docker's 1 MiB: served
    pad = "p" * (900 * 1024)
    assert _raw(sock, f"/_ping?pad={pad}", f"X-Pad: {pad}\r\n") == (200, b"OK")
    # past 1 MiB: a 400 naming the limit, for the request line and for a header
    pad = "p" * (1100 * 1024)
    for target, headers in ((f"/_ping?pad={pad}", ""), ("/_ping", f"X-Pad: {pad}\r\n")):
        status, body = _raw(sock, target, headers)
        assert status == 400 and b"Got more than 1048576 bytes" in body, body[:300]
    # and the daemon still serves
    assert _raw(sock, "/_ping") == (200, b"OK")
