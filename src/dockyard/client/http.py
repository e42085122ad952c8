"""HTTP/1.1 over a unix socket, on the standard library's ``socket`` alone.

The ``dockyard`` CLI is a short-lived process whose start-up is part of
every ``dockyard run``: httpx (and even ``http.client``, through
``email``) costs more to import than the whole request takes. The
Engine API needs little of HTTP: requests with a JSON or streamed body,
responses sized by ``Content-Length``, ``Transfer-Encoding: chunked`` or
the connection's end, keep-alive, and the ``Upgrade: tcp`` hijack of
attach and exec. That is all this module does.

``Connection.request`` sends one request and returns a ``Response``
whose headers are read and whose body is still on the socket; reading
it to the end hands the socket back for the next request (keep-alive).
``Response.detach`` gives the socket (and any bytes already buffered) to
a caller that takes the stream over after ``101 UPGRADED``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .errors import ConnectionFailed

# What a request target carries unescaped (RFC 3986): the unreserved
# characters, and in a path also "/" and pchar's sub-delims, ":" and "@".
# Everything else is %XX. (urllib.parse would do, but it imports ipaddress
# and costs the CLI more than this whole module.)
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset(b"/:@!$&'()*+,;=")
_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 200


class ProtocolError(ConnectionFailed):
    """The daemon's answer is not HTTP/1.x we can read."""


class Headers(dict[str, str]):
    """Response headers; names are case-insensitive (stored lower-case)."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class Response:
    """A response whose body is read on demand: ``read``, ``iter_raw``, ``iter_lines``."""

    def __init__(self, status_code: int, reason: str, headers: Headers,
                 file: IO[bytes], sock: socket.socket, on_done: Any, method: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self._file = file
        self._sock = sock
        self._on_done = on_done
        self._content: bytes | None = None
        te = headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in te
        length = headers.get("content-length")
        self._remaining: int | None = None
        if method == "HEAD" or status_code in (204, 304) or 100 <= status_code < 200:
            self._remaining = 0
        elif not self._chunked and length is not None:
            try:
                self._remaining = int(length)
            except ValueError:
                raise ProtocolError(f"bad Content-Length {length!r}") from None
        # Kept alive only when the body's end is known without closing.
        self._reusable = (status_code != 101 and headers.get("connection", "").lower() != "close"
                          and (self._chunked or self._remaining is not None))
        self._chunk_left = 0
        self._done = False
        if self._remaining == 0 and status_code != 101:
            self._finish()

    # --- body -----------------------------------------------------------------

    def iter_raw(self, size: int = 65536) -> Iterator[bytes]:
        """The body's bytes as they arrive (chunk boundaries are not kept)."""
        try:
            while not self._done:
                data = self._read_some(size)
                if data:
                    yield data
        finally:
            if not self._done:
                self.close()

    def iter_lines(self) -> Iterator[bytes]:
        buf = b""
        for data in self.iter_raw():
            buf += data
            *lines, buf = buf.split(b"\n")
            yield from lines
        if buf:
            yield buf

    def read(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.iter_raw())
        return self._content

    @property
    def content(self) -> bytes:
        return self.read()

    @property
    def text(self) -> str:
        return self.read().decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.read())

    def close(self) -> None:
        """Drop the connection unless the body was read to its end."""
        if not self._done:
            self._done = True
            self._reusable = False
            self._release()

    def detach(self) -> tuple[socket.socket, IO[bytes]]:
        """The socket, for a caller that takes the stream over (after an upgrade).

        Read through the returned file: it holds bytes already buffered."""
        self._done = True
        self._on_done = None
        return self._sock, self._file

    # --- plumbing ---------------------------------------------------------------

    def _read_some(self, size: int) -> bytes:
        f = self._file
        try:
            if self._chunked:
                if self._chunk_left == 0:
                    line = f.readline(_MAX_HEADER_LINE)
                    if not line:
                        raise ProtocolError("connection closed inside a chunked body")
                    try:
                        self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
                    except ValueError:
                        raise ProtocolError(f"bad chunk size line {line[:40]!r}") from None
                    if self._chunk_left == 0:
                        while f.readline(_MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                            pass  # trailers: none we use
                        self._finish()
                        return b""
                data = f.read1(min(size, self._chunk_left))  # type: ignore[attr-defined]
                if not data:
                    raise ProtocolError("connection closed inside a chunk")
                self._chunk_left -= len(data)
                if self._chunk_left == 0:
                    f.readline(_MAX_HEADER_LINE)  # the CRLF after the chunk
                return data  # type: ignore[no-any-return]
            if self._remaining is not None:
                if self._remaining == 0:
                    self._finish()
                    return b""
                data = f.read1(min(size, self._remaining))  # type: ignore[attr-defined]
                if not data:
                    raise ProtocolError(f"connection closed {self._remaining} bytes before "
                                        "the body's end")
                self._remaining -= len(data)
                if self._remaining == 0:
                    self._finish()
                return data  # type: ignore[no-any-return]
            data = f.read1(size)  # type: ignore[attr-defined]
            if not data:
                self._finish()
            return data  # type: ignore[no-any-return]
        except OSError as e:
            self.close()
            raise ConnectionFailed(f"reading the daemon's response: {e}") from None

    def _finish(self) -> None:
        self._done = True
        self._release()

    def _release(self) -> None:
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(self._sock, self._file, self._reusable)


class Connection:
    """Requests to one unix socket; one idle connection kept for the next request."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        self.path = path
        self.timeout = timeout
        self._idle: tuple[socket.socket, IO[bytes]] | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, None
        if idle is not None:
            _close(*idle)

    def request(self, method: str, path: str, *,
                params: dict[str, str] | list[tuple[str, str]] | None = None,
                headers: dict[str, str] | None = None,
                body: bytes | Iterable[bytes] | None = None) -> Response:
        target = _escape(path, _PATH_SAFE)
        if params:
            items = params.items() if isinstance(params, dict) else params
            target += "?" + "&".join(f"{_escape(k, _UNRESERVED)}={_escape(v, _UNRESERVED)}"
                                     for k, v in items)
        head = [f"{method} {target} HTTP/1.1", "Host: docker", "User-Agent: dockyard-cli"]
        for k, v in (headers or {}).items():
            if "\r" in k or "\n" in k or "\r" in v or "\n" in v:
                raise ValueError(f"header {k!r}: line breaks are not allowed")
            head.append(f"{k}: {v}")
        chunks: Iterable[bytes] | None = None
        if isinstance(body, bytes | bytearray):
            head.append(f"Content-Length: {len(body)}")
        elif body is not None:
            head.append("Transfer-Encoding: chunked")
            chunks = body
        elif method in ("POST", "PUT", "PATCH"):
            head.append("Content-Length: 0")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if isinstance(body, bytes | bytearray) and len(body) < 65536:
            raw, first = raw + bytes(body), b""
        else:
            first = bytes(body) if isinstance(body, bytes | bytearray) else b""
        with self._lock:
            idle, self._idle = self._idle, None
        if idle is not None and chunks is None:
            # A kept-alive connection the daemon may have closed meanwhile:
            # if nothing at all comes back, the request never reached it.
            try:
                return self._exchange(idle, method, raw, first, None, reused=True)
            except _Stale:
                pass
        elif idle is not None:
            _close(*idle)
        return self._exchange(self._connect(), method, raw, first, chunks, reused=False)

    def _connect(self) -> tuple[socket.socket, IO[bytes]]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as e:
            sock.close()
            raise ConnectionFailed(
                f"Cannot connect to the dockyard daemon at unix://{self.path}. "
                f"Is the daemon running? ({e})") from None
        return sock, sock.makefile("rb")

    def _exchange(self, conn: tuple[socket.socket, IO[bytes]], method: str, raw: bytes,
                  first: bytes, chunks: Iterable[bytes] | None, *, reused: bool) -> Response:
        sock, f = conn
        try:
            sock.sendall(raw)
            if first:
                sock.sendall(first)
            if chunks is not None:
                for c in chunks:
                    if c:
                        sock.sendall(b"%x\r\n%s\r\n" % (len(c), c))
                sock.sendall(b"0\r\n\r\n")
            status = f.readline(_MAX_HEADER_LINE)
        except OSError as e:
            _close(sock, f)
            if chunks is None and not isinstance(e, TimeoutError):
                raise _Stale() if reused else ConnectionFailed(
                    f"talking to the daemon at unix://{self.path}: {e}") from None
            raise ConnectionFailed(f"talking to the daemon at unix://{self.path}: {e}") from None
        if not status:
            _close(sock, f)
            if reused:
                raise _Stale()
            raise ConnectionFailed(f"the daemon at unix://{self.path} closed the connection")
        try:
            version, code, reason = _status_line(status)
            headers = _headers(f)
        except OSError as e:
            _close(sock, f)
            raise ConnectionFailed(f"reading the daemon's response: {e}") from None
        except ProtocolError:
            _close(sock, f)
            raise
        if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
            headers.setdefault("connection", "close")
        return Response(code, reason, headers, f, sock, self._give_back, method)

    def _give_back(self, sock: socket.socket, f: IO[bytes], reusable: bool) -> None:
        if not reusable:
            _close(sock, f)
            return
        with self._lock:
            old, self._idle = self._idle, (sock, f)
        if old is not None:
            _close(*old)


class _Stale(Exception):
    """A kept-alive connection closed by the daemon before our request."""


def _escape(text: str, safe: frozenset[int]) -> str:
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in text.encode())


def _status_line(line: bytes) -> tuple[str, int, str]:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {line[:60]!r}")
    return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""


def _headers(f: IO[bytes]) -> Headers:
    headers = Headers()
    for _ in range(_MAX_HEADERS):
        line = f.readline(_MAX_HEADER_LINE)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise ProtocolError("connection closed inside the response headers")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line {line[:60]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value  # RFC 9110 5.3
    raise ProtocolError(f"more than {_MAX_HEADERS} response headers")


def _close(sock: socket.socket, f: IO[bytes]) -> None:
    try:
        f.close()
    finally:
        sock.close()
