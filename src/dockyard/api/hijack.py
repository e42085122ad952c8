"""Taking over an HTTP connection for attach and exec (``Upgrade: tcp``).

Docker answers ``101 UPGRADED`` (or ``200 OK`` for old clients that do not
ask to upgrade) and from then on the socket carries raw stdio both ways;
the client half-closes its side when its stdin ends and still reads the
rest of the output.

aiohttp's request handler would close the connection on that half-close
and lose the output (LIBRARIES.md trap 1). So the handler writes the
status line itself, collects the bytes aiohttp already buffered past the
request (``set_parser``, the semi-private call aiohttp's own WebSocket
support uses), and moves the transport to ``Hijacked``, whose
``eof_received`` keeps the socket open for writing. aiohttp's minor
version is pinned in pyproject.toml for this; ``tests/api`` keeps the
real ``docker exec -i`` test that proves it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class _Tail:
    """A stand-in payload parser: whatever followed the request headers."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.buf += data
        return False, b""

    def feed_eof(self) -> None:
        pass


class Hijacked(asyncio.Protocol):
    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.lost = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()

    def data_received(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    def eof_received(self) -> bool:
        self.queue.put_nowait(None)
        return True  # half-close: keep our side open for the output

    def connection_lost(self, exc: BaseException | None) -> None:
        self.queue.put_nowait(None)
        self.lost.set()
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def read(self) -> bytes | None:
        return await self.queue.get()

    async def write(self, data: bytes) -> None:
        if self.lost.is_set() or self.transport.is_closing():
            return
        self.transport.write(data)
        await self._can_write.wait()

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()  # flushes what is buffered first


async def hijack(request: web.Request, content_type: str) -> Hijacked:
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("client went away")
    status = "101 UPGRADED" if upgrade else "200 OK"
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
    if upgrade:
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    head += "Api-Version: 1.50\r\n\r\n"
    tail = _Tail()
    proto: Any = request.protocol
    proto.set_parser(tail)
    h = Hijacked(transport)
    transport.set_protocol(h)
    transport.write(head.encode())
    if tail.buf:
        h.data_received(bytes(tail.buf))
    transport.resume_reading()
    return h


def done_response() -> web.StreamResponse:
    """What a hijacking handler returns: the socket was already answered and closed."""
    return web.Response(status=200)
