"""``client.http``: HTTP/1.1 on a unix socket, against a real peer on a real socket.

The peer is a thread on a unix socket that reads each request as the
daemon would (request line, headers, a Content-Length or chunked body)
and answers with bytes the test chooses, so each framing case, keep-alive,
a connection the daemon closed while idle, the upgrade hijack and broken
answers are all exercised on the wire.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.client import APIError, Client, ConnectionFailed
from dockyard.client.http import Connection, ProtocolError

Answer = Callable[["Request", socket.socket], bool]  # True: keep the connection


@dataclass
class Request:
    line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Peer:
    path: str
    answer: Answer
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def serve(self) -> None:
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lst.bind(self.path)
        lst.listen(8)
        lst.settimeout(30)
        self._lst = lst
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._lst.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            while True:
                req = _read_request(f)
                if req is None:
                    return
                self.requests.append(req)
                if not self.answer(req, conn):
                    return
        finally:
            f.close()
            conn.close()

    def close(self) -> None:
        self._lst.close()


def _read_request(f: object) -> Request | None:
    rf = f  # a BufferedReader over the connection
    line = rf.readline()  # type: ignore[attr-defined]
    if not line:
        return None
    headers = {}
    while True:
        h = rf.readline()  # type: ignore[attr-defined]
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = rf.read(int(headers["content-length"]))  # type: ignore[attr-defined]
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int(rf.readline().strip(), 16)  # type: ignore[attr-defined]
            if size == 0:
                rf.readline()  # type: ignore[attr-defined]
                break
            body += rf.read(size)  # type: ignore[attr-defined]
            rf.readline()  # type: ignore[attr-defined]
    return Request(line.decode().rstrip("\r\n"), headers, body)


@pytest.fixture
def peer(short_tmp: Path) -> Iterator[Callable[[Answer], Peer]]:
    made: list[Peer] = []

    def make(answer: Answer) -> Peer:
        p = Peer(str(short_tmp / f"p{len(made)}.sock"), answer)
        p.serve()
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def _json(status: int, body: bytes, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def test_keep_alive_reuses_one_connection_and_sends_json(peer: Callable[[Answer], Peer]) -> None:
    def answer(req: Request, conn: socket.socket) -> bool:
        if req.line.startswith("GET /_ping"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\nContent-Length: 2\r\n\r\nOK")
        else:
            conn.sendall(_json(201, b'{"Id": "abc", "Warnings": []}'))
        return True

    p = peer(answer)
    with Client("unix://" + p.path) as c:
        assert c.create({"Image": "busybox", "Cmd": ["true"]}, name="n1")["Id"] == "abc"
        assert c.create({"Image": "busybox"})["Id"] == "abc"
    assert p.connections == 1
    ping, first, second = p.requests
    assert ping.line == "GET /_ping HTTP/1.1"
    assert first.line == "POST /v1.50/containers/create?name=n1 HTTP/1.1"
    assert first.headers["content-type"] == "application/json"
    assert first.body == b'{"Image": "busybox", "Cmd": ["true"]}'
    assert second.line == "POST /v1.50/containers/create HTTP/1.1"


def test_chunked_response_streams_and_trailers_are_skipped(peer: Callable[[Answer], Peer]) -> None:
    def answer(req: Request, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"6;ext=1\r\nhello \r\n" b"6\r\nworld\n\r\n" b"3\r\nend\r\n"
                     b"0\r\nX-Trailer: t\r\n\r\n")
        return True

    p = peer(answer)
    c = Connection(p.path, timeout=30)
    r = c.request("GET", "/logs")
    assert list(r.iter_lines()) == [b"hello world", b"end"]
    # The body was read to its end: the same connection serves the next one.
    assert c.request("GET", "/logs").read() == b"hello world\nend"
    c.close()
    assert p.connections == 1


def test_body_until_close_is_not_reused(peer: Callable[[Answer], Peer]) -> None:
    def answer(req: Request, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        return False  # the end of the body is the end of the connection

    p = peer(answer)
    c = Connection(p.path, timeout=30)
    assert c.request("GET", "/a").read() == b"all of it"
    assert c.request("GET", "/b").read() == b"all of it"
    assert p.connections == 2


def test_idle_connection_closed_by_the_daemon_is_retried(peer: Callable[[Answer], Peer]) -> None:
    def answer(req: Request, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        return False  # keep-alive advertised, but the daemon drops it (its idle timeout)

    p = peer(answer)
    c = Connection(p.path, timeout=30)
    assert c.request("POST", "/x", body=b"{}").read() == b"OK"
    assert c.request("POST", "/x", body=b"{}").read() == b"OK"
    assert p.connections == 2
    assert [r.line for r in p.requests] == ["POST /x HTTP/1.1"] * 2


def test_streamed_request_body_is_sent_chunked(peer: Callable[[Answer], Peer]) -> None:
    def answer(req: Request, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(req.body), req.body))
        return True

    p = peer(answer)
    c = Connection(p.path, timeout=30)
    parts = [b"a" * 70000, b"", b"tail"]
    r = c.request("POST", "/build", body=iter(parts), headers={"Content-Type": "application/x-tar"})
    assert r.read() == b"".join(parts)
    assert p.requests[0].headers["transfer-encoding"] == "chunked"


def test_upgrade_hands_over_the_socket_with_bytes_already_read(
        peer: Callable[[Answer], Peer]) -> None:
    got = threading.Event()
    received: list[bytes] = []

    def answer(req: Request, conn: socket.socket) -> bool:
        if req.line.startswith("GET /_ping"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
            return True
        # The headers and the first frames in one write, as a fast container's
        # output arrives: the client must not lose what it buffered.
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                     b"\x01\x00\x00\x00\x00\x00\x00\x03out" b"\x02\x00\x00\x00\x00\x00\x00\x03err")
        while chunk := conn.recv(100):
            received.append(chunk)
        got.set()
        conn.sendall(b"\x01\x00\x00\x00\x00\x00\x00\x04done")
        return False

    p = peer(answer)
    with Client("unix://" + p.path) as c:
        h = c.attach("abc", stdin=True)
        h.write(b"typed")
        h.close_write()
        assert got.wait(30)
        assert list(h.frames(tty=False)) == [(1, b"out"), (2, b"err"), (1, b"done")]
        h.close()
    assert b"".join(received) == b"typed"
    assert "stdin=1" in p.requests[-1].line and p.requests[-1].headers["upgrade"] == "tcp"


def test_errors_name_the_problem(peer: Callable[[Answer], Peer], short_tmp: Path) -> None:
    with pytest.raises(ConnectionFailed, match="Cannot connect to the dockyard daemon"):
        Client("unix://" + str(short_tmp / "nothing.sock")).inspect("x")

    def not_http(req: Request, conn: socket.socket) -> bool:
        conn.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
        return False

    with pytest.raises(ProtocolError, match="not an HTTP/1.x status line"):
        Connection(peer(not_http).path, timeout=30).request("GET", "/x")

    def short(req: Request, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        return False

    with pytest.raises(ConnectionFailed, match="7 bytes before the body's end"):
        Connection(peer(short).path, timeout=30).request("GET", "/x").read()

    def missing(req: Request, conn: socket.socket) -> bool:
        if req.line.startswith("GET /_ping"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        else:
            conn.sendall(_json(404, b'{"message": "No such container: nope"}'))
        return True

    with Client("unix://" + peer(missing).path) as c, pytest.raises(APIError) as e:
        c.inspect("nope")
    assert (e.value.status, e.value.message) == (404, "No such container: nope")


def test_header_injection_and_path_escaping(peer: Callable[[Answer], Peer]) -> None:
    def answer(req: Request, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        return True

    p = peer(answer)
    c = Connection(p.path, timeout=30)
    with pytest.raises(ValueError, match="line breaks"):
        c.request("GET", "/x", headers={"X-A": "v\r\nX-Evil: 1"})
    assert p.requests == []  # nothing was sent
    assert c.request("GET", "/containers/a b\r\n/json", params={"q": "a&b%"}).read() == b""
    assert p.requests[0].line == "GET /containers/a%20b%0D%0A/json?q=a%26b%25 HTTP/1.1"
    c.request("GET", "/images/get", params=[("names", "busybox:latest"), ("names", "x/y")]).read()
    assert p.requests[1].line == "GET /images/get?names=busybox%3Alatest&names=x%2Fy HTTP/1.1"


def test_cli_imports_no_http_library() -> None:
    """What keeps ``dockyard run`` fast: the client pulls in neither httpx nor http.client."""
    import subprocess
    import sys

    code = ("import sys, dockyard.cli.main, dockyard.cli.run, dockyard.cli.ps;"
            "bad = [m for m in ('httpx', 'httpcore', 'http.client', 'email', 'ssl', 'rich',"
            " 'msgspec', 'aiohttp') if m in sys.modules];"
            "print(' '.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_head_answer_and_header_names_of_any_case(peer: Callable[[Answer], Peer]) -> None:
    """``docker cp``'s stat: a HEAD answer carries a Content-Length but no body, and the
    stat is in a header whatever case the daemon spells it in."""
    import base64

    stat = base64.b64encode(b'{"name": "tmp", "mode": 2147484157}')

    def answer(req: Request, conn: socket.socket) -> bool:
        if req.line.startswith("GET /_ping"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 120\r\n"
                         b"x-docker-container-path-stat: " + stat + b"\r\n\r\n")
        return True

    p = peer(answer)
    with Client("unix://" + p.path) as c:
        assert c.archive_stat("abc", "/tmp") == {"name": "tmp", "mode": 2147484157}
        assert c.archive_stat("abc", "/tmp")["name"] == "tmp"  # the connection was reusable
    assert p.connections == 1
    assert p.requests[-1].line == "HEAD /v1.50/containers/abc/archive?path=%2Ftmp HTTP/1.1"


def test_another_client_has_its_own_connection_and_no_second_ping(
        peer: Callable[[Answer], Peer]) -> None:
    def answer(req: Request, conn: socket.socket) -> bool:
        if req.line.startswith("GET /_ping"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK")
        else:
            conn.sendall(_json(200, b'{"StatusCode": 0}'))
        return True

    p = peer(answer)
    with Client("unix://" + p.path) as c:
        c.wait("abc")
        with c.another() as other:
            assert other.wait("abc", "removed") == {"StatusCode": 0}
    assert p.connections == 2
    # An older engine's version, negotiated once, is the second client's too.
    assert [r.line for r in p.requests] == [
        "GET /_ping HTTP/1.1", "POST /v1.41/containers/abc/wait HTTP/1.1",
        "POST /v1.41/containers/abc/wait?condition=removed HTTP/1.1"]
