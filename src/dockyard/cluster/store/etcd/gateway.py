"""etcd's JSON gateway: the wire form and the way to a live member.

etcd v3 speaks gRPC; its gateway maps every call to ``POST /v3/<service>/
<method>`` with the protobuf message as JSON (etcd 3.4 serves ``/v3``; 3.2
and older used ``/v3alpha``/``/v3beta``). Protobuf's JSON mapping has three
traps, all handled here: ``bytes`` fields (keys, values) are base64; int64
fields (revisions, leases, counts) are strings; a field at its default value
(0, "", false, empty) is left out entirely - an event without ``type`` is a
PUT, a kv without ``value`` has an empty value.

Errors come back as a non-200 status with ``{"error", "code", "message"}``
where ``code`` is the gRPC status code.

Failover. ``Gateway`` holds every member's URL and talks to one at a time.
When a member cannot be reached it moves on to the next, round and round,
until ``deadline`` seconds have passed (then UnavailableError). A request
that may have reached a member before the connection broke is only sent
again when that is safe (reads, compaction); for a write the gateway raises
``Ambiguous`` and ``write.py`` resolves what happened.

Client: aiohttp rather than httpx (LIBRARIES.md's first pick). Measured on
this machine against one local etcd: httpx spent 1.1-2.2 ms of CPU per
request (httpcore retries ``import sniffio`` on every request when it is not
installed, and scans its pool on each one), aiohttp 0.15-0.25 ms; with 16
concurrent writers that was 450 against 3,800 puts/s.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from .. import (
    CompactedError,
    FutureRevisionError,
    KeyValue,
    LeaseNotFoundError,
    StoreError,
    UnavailableError,
    ValueTooLargeError,
)

# gRPC status codes the gateway reports.
UNAVAILABLE = 14

DEADLINE = 10.0  # seconds to keep trying other members before giving up
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=1.0, sock_read=10.0)
# A write stuck longer than this is most likely a proposal lost with a dead
# leader (the member would only give up after its own ~6 s request timeout);
# the store resolves the unknown outcome and tries again (``Ambiguous``).
WRITE_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=1.0, sock_read=3.0)
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=1.0, sock_read=None)

# Failures before the request reached the member: always safe to send again.
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# Everything a broken connection or a silent member can raise.
TRANSPORT = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)

Json = dict[str, Any]

# clientv3's WithRequireLeader, through the gateway (which turns
# Grpc-Metadata-* headers into gRPC metadata): a member cut off from the
# leader cancels our stream with "no leader" instead of going silent, and
# the watch moves to another member.
REQUIRE_LEADER = {"Grpc-Metadata-hasleader": "true"}


def b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for "every key starting with prefix" ("\\0": all keys)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\0"


def kv(j: Json) -> KeyValue:
    return KeyValue(
        unb64(j.get("key")).decode(),
        unb64(j.get("value")),
        int(j.get("create_revision", 0)),
        int(j.get("mod_revision", 0)),
        int(j.get("lease", 0)),
    )


def revision(response: Json) -> int:
    return int(response.get("header", {}).get("revision", 0))


class GatewayError(StoreError):
    """An error etcd answered with, not mapped to a more precise one."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"etcd: {message} (grpc code {code})")
        self.code = code
        self.message = message


class Ambiguous(UnavailableError):
    """A write reached a member but its outcome is unknown: the connection
    broke, or etcd answered "request timed out" / "leader changed"."""


class Gateway:
    def __init__(self, endpoints: list[str], deadline: float = DEADLINE) -> None:
        if not endpoints:
            raise ValueError("etcd store: no endpoints")
        self.endpoints = endpoints
        self.deadline = deadline
        self.current = 0
        self.seen = 0  # the newest revision any answer carried
        self._session: aiohttp.ClientSession | None = None
        self._streams: set[aiohttp.ClientResponse] = set()
        self.on_first_use: Callable[[], None] | None = None
        self._closed = False

    @property
    def url(self) -> str:
        return self.endpoints[self.current]

    @property
    def session(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp wants a running loop. Watches hold one
        # connection each, hence no limit.
        if self._closed:
            raise UnavailableError("the etcd store is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=TIMEOUT
            )
            if self.on_first_use is not None:
                self.on_first_use()
        return self._session

    def next_member(self, failed: str) -> None:
        """Move on from ``failed`` (unless another caller already did)."""
        if self.url == failed:
            self.current = (self.current + 1) % len(self.endpoints)

    async def close(self) -> None:
        self._closed = True
        # Closing the session leaves a response being read hanging: cut the
        # open watch streams first, so their watches end.
        for r in list(self._streams):
            r.close()
        if self._session is not None:
            await self._session.close()

    async def call(self, path: str, body: Json, *, idempotent: bool, at: int = 0) -> Json:
        """POST ``body`` to ``/v3/<path>`` on a live member; the decoded answer.

        ``idempotent``: safe to send again when the outcome is unknown (reads,
        compaction). Otherwise an unknown outcome raises ``Ambiguous`` for the
        caller to resolve. ``at``: the revision asked for, to name in a
        compacted/future error."""
        deadline = time.monotonic() + self.deadline
        tried = 0
        last: Exception | None = None
        while True:
            url = self.url
            try:
                async with self.session.post(
                    f"{url}/v3/{path}", json=body, timeout=TIMEOUT if idempotent else WRITE_TIMEOUT
                ) as r:
                    status = r.status
                    raw = await r.read()
                try:
                    answer: Json = json.loads(raw)
                except ValueError:
                    raise GatewayError(
                        0, f"{url} answered {status} with something other than JSON: {raw[:200]!r}"
                    ) from None
            except NOT_SENT as e:
                last = e
            except TRANSPORT as e:
                if not idempotent:
                    self.next_member(url)
                    raise Ambiguous(f"etcd member {url} failed during {path}: {e!r}") from e
                last = e
            else:
                if status == 200:
                    self.seen = max(self.seen, revision(answer))
                    return answer
                code = int(answer.get("code", 0))
                message = str(answer.get("message") or answer.get("error") or answer)
                if code != UNAVAILABLE:
                    raise await self._error(code, message, at)
                if not idempotent and not _not_applied(message):
                    # "request timed out", "leader changed": the proposal may
                    # yet be applied - or was lost with a dead leader.
                    self.next_member(url)
                    raise Ambiguous(f"etcd member {url}: {message}")
                last = GatewayError(code, message)
            self.next_member(url)
            tried += 1
            if time.monotonic() > deadline:
                raise UnavailableError(
                    f"no etcd member of {', '.join(self.endpoints)} answered: {last!r}"
                ) from last
            if tried % len(self.endpoints) == 0:
                await asyncio.sleep(0.1)  # a full round failed: an election may be under way

    @asynccontextmanager
    async def stream(self, url: str, path: str, body: Json) -> AsyncIterator[AsyncIterator[Json]]:
        """A streaming call (watch): its messages, one JSON object a line.
        Lines are split here: aiohttp's readline refuses lines over 64 KiB,
        and an event with a 1.5 MiB value and its prev_kv is ~4 MiB."""
        async with self.session.post(
            f"{url}/v3/{path}", json=body, timeout=STREAM_TIMEOUT, headers=REQUIRE_LEADER
        ) as r:
            if r.status != 200:
                answer = json.loads(await r.read())
                # A unary-style error, or a stream's {"error": {"grpc_code", ...}}.
                error = answer.get("error") if isinstance(answer.get("error"), dict) else answer
                code = int(error.get("code", error.get("grpc_code", 0)))
                raise GatewayError(code, str(error.get("message")))
            self._streams.add(r)

            async def messages() -> AsyncIterator[Json]:
                buf = bytearray()
                async for chunk in r.content.iter_any():
                    buf += chunk
                    start = 0
                    while (end := buf.find(b"\n", start)) >= 0:
                        line = bytes(buf[start:end]).strip()
                        start = end + 1
                        if line:
                            yield json.loads(line)
                    del buf[:start]

            try:
                yield messages()
            finally:
                self._streams.discard(r)

    async def _error(self, code: int, message: str, at: int) -> StoreError:
        if "required revision has been compacted" in message:
            return CompactedError(at, await self.compact_revision())
        if "required revision is a future revision" in message:
            head = await self.call("kv/range", {"key": b64("\0")}, idempotent=True)
            return FutureRevisionError(at, revision(head))
        if "request is too large" in message:
            return ValueTooLargeError(f"etcd: {message}")
        if "requested lease not found" in message:
            return LeaseNotFoundError(f"etcd: {message}")
        return GatewayError(code, message)

    async def compact_revision(self) -> int:
        """etcd reports the compact revision only to a watch that starts
        before it: open one from revision 1 and read its cancellation."""
        body = {"create_request": {"key": b64("\0"), "start_revision": "1"}}
        try:
            async with asyncio.timeout(5), self.stream(self.url, "watch", body) as messages:
                async for message in messages:
                    result = message.get("result", {})
                    if "compact_revision" in result:
                        return int(result["compact_revision"])
                    if result.get("events"):
                        return 0  # revision 1 is still there: nothing compacted
        except (*TRANSPORT, StoreError, ValueError):
            pass
        return 0


def _not_applied(message: str) -> bool:
    """Unavailable answers that guarantee the request was not applied."""
    return "no leader" in message or "not capable" in message
