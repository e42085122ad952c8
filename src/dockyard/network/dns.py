"""Embedded DNS: one server per user-defined network, on its gateway address.

We chose aardvark-dns's shape (podman) over Docker's 127.0.0.11: the server
listens on ``<gateway>:53`` (UDP and TCP) in the host's namespace, so it
needs no per-container iptables redirect and no process inside the
sandbox; a container's ``/etc/resolv.conf`` names its network's gateway.
The listening address tells which network a query is for, and the
client's address which endpoint asks (for its ``--dns`` upstreams).

Answers: a container's name, its aliases, its hostname and its short id
(case-insensitive, with or without a trailing dot, bare or qualified with
the network's name as in ``web.mynet``) → its address on *that* network
(A/AAAA); a ``--link target:alias`` alias answers for the linking
container only.
An unqualified name that is not ours gets NXDOMAIN right here (no public
resolver could answer it; the client applies its search domains itself);
anything else goes to the endpoint's ``--dns`` servers, else the host's
resolvers, and their answer is relayed as is (SERVFAIL if none answers).

The server runs its own asyncio loop in a thread, so the (synchronous)
network service can add and remove listeners as networks come and go,
and the engine daemon — asyncio or not — just calls ``start()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import NetworkError

TTL = 600
T = TypeVar("T")


@dataclass
class Resolution:
    found: bool  # the name is ours (maybe with no address of the asked family)
    addresses: list[str] = field(default_factory=list)
    upstreams: list[str] = field(default_factory=list)  # "ip" or "ip:port"


# (listen address, client address, name without trailing dot) → Resolution
Lookup = Callable[[str, str, str], Resolution]


def host_resolvers(path: str = "/etc/resolv.conf") -> list[str]:
    out = []
    with contextlib.suppress(OSError), open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                out.append(parts[1])
    return out


def _split_upstream(u: str) -> tuple[str, int]:
    if u.startswith("["):
        host, _, port = u[1:].partition("]:")
        return host, int(port or 53)
    if u.count(":") == 1:
        host, port = u.split(":")
        return host, int(port)
    return u, 53


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer, address: str) -> None:
        self.server, self.address = server, address
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        async def reply() -> None:
            out = await self.server.answer(self.address, addr[0], data)
            if out is not None and self.transport is not None:
                self.transport.sendto(out, addr)

        self.server._spawn(reply())


class DNSServer:
    """Serve :class:`Lookup` answers on any number of addresses (port 53 by default)."""

    def __init__(self, lookup: Lookup, port: int = 53, timeout: float = 2.0) -> None:
        self.lookup, self.port, self.timeout = lookup, port, timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listeners: dict[str, tuple[asyncio.BaseTransport, asyncio.AbstractServer]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="dockyard-dns", daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        for a in list(self._listeners):
            self.unlisten(a)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = self._thread = None

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "DNSServer.start() first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def addresses(self) -> list[str]:
        return list(self._listeners)

    def listen(self, address: str) -> None:
        """Serve on ``address``:port (UDP and TCP); idempotent."""
        if address in self._listeners:
            return
        try:
            self._listeners[address] = self._call(self._listen(address))
        except OSError as e:
            raise NetworkError(f"embedded DNS cannot listen on {address}:{self.port}: "
                               f"{e.strerror or e}") from None

    def unlisten(self, address: str) -> None:
        pair = self._listeners.pop(address, None)
        if pair is not None:
            self._call(self._unlisten(pair))

    async def _listen(self, address: str) -> tuple[asyncio.BaseTransport, asyncio.AbstractServer]:
        loop = asyncio.get_running_loop()
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _UDP(self, address), local_addr=(address, self.port), family=fam)
        try:
            tcp = await asyncio.start_server(
                lambda r, w: self._tcp_client(address, r, w), address, self.port,
                family=fam, reuse_address=True)
        except BaseException:
            udp.close()
            raise
        return udp, tcp

    async def _unlisten(self, pair: tuple[asyncio.BaseTransport, asyncio.AbstractServer]) -> None:
        pair[0].close()
        pair[1].close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pair[1].wait_closed(), 1)

    async def _tcp_client(self, address: str, r: asyncio.StreamReader,
                          w: asyncio.StreamWriter) -> None:
        peer = w.get_extra_info("peername")[0]
        try:
            while True:
                (n,) = struct.unpack("!H", await r.readexactly(2))
                out = await self.answer(address, peer, await r.readexactly(n))
                if out is None:
                    break
                w.write(struct.pack("!H", len(out)) + out)
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    # -- answering ------------------------------------------------------
    async def answer(self, listen: str, client: str, wire: bytes) -> bytes | None:
        # dnspython (~4 MiB) on the first query: a daemon with no user-defined
        # network never answers one, and its start-up imports this module.
        import dns.asyncquery
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset

        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None  # not DNS: drop, as servers do
        if not q.question:
            return dns.message.make_response(q).to_wire()
        qs = q.question[0]
        name = qs.name.to_text(omit_final_dot=True).lower()
        res = self.lookup(listen, client, name)
        if res.found:
            resp = dns.message.make_response(q)
            resp.flags |= dns.flags.AA | dns.flags.RA
            want = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(qs.rdtype)
            addrs = [a for a in res.addresses if want == (6 if ":" in a else 4)]
            if addrs:
                resp.answer.append(dns.rrset.from_text_list(
                    qs.name, TTL, dns.rdataclass.IN, qs.rdtype, addrs))
            return resp.to_wire()
        if "." not in name:
            resp = dns.message.make_response(q)
            resp.flags |= dns.flags.RA
            resp.set_rcode(dns.rcode.NXDOMAIN)
            return resp.to_wire()
        for up in res.upstreams:
            host, port = _split_upstream(up)
            try:
                r = await dns.asyncquery.udp(q, host, timeout=self.timeout, port=port)
                if r.flags & dns.flags.TC:
                    r = await dns.asyncquery.tcp(q, host, timeout=self.timeout, port=port)
                return r.to_wire()
            except Exception:
                continue
        resp = dns.message.make_response(q)
        resp.flags |= dns.flags.RA
        resp.set_rcode(dns.rcode.SERVFAIL)
        return resp.to_wire()
