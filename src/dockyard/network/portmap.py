"""Host port reservations: a published port is a socket we hold bound.

DNAT carries the traffic; the bound socket is what makes "port already in
use" a clear, early error (the check *is* the bind, so no race with another
program between check and use) and keeps anyone else from taking the port
while it is published. After a daemon restart ``restore()`` binds them
again from the records.
"""

from __future__ import annotations

import errno
import socket

from .errors import PortAllocated
from .model import PortMapping

Key = tuple[str, str, int]  # (host ip, proto, port)


def host_has_ipv6() -> bool:
    """Can this host bind ``[::]`` at all (IPv6 compiled in and not disabled)?"""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::", 0))
    except OSError:
        return False
    return True


class PortReservations:
    """``""`` (every address) holds ``0.0.0.0`` and, where the host has IPv6, ``[::]``
    (v6-only) too: both wildcards, so neither an IPv4 nor an IPv6 listener can take a
    published port (Docker binds both as well)."""

    def __init__(self) -> None:
        self._held: dict[Key, list[socket.socket]] = {}
        self.ipv6 = host_has_ipv6()

    @staticmethod
    def _bind_one(ip: str, proto: str, port: int) -> socket.socket:
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        if proto == "sctp":
            kind = socket.SOCK_STREAM  # reserve the number; SCTP sockets may be compiled out
        s = socket.socket(fam, kind)
        try:
            if fam == socket.AF_INET6 and ip == "::":
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((ip, port))
        except BaseException:
            s.close()
            raise
        return s

    def _bind(self, ip: str, proto: str, port: int) -> list[socket.socket]:
        """All sockets for one (ip, proto, port); port 0 → the kernel picks one free on
        every wildcard. Raises OSError (EADDRINUSE naming the family's wildcard)."""
        if ip:
            return [self._bind_one(ip, proto, port)]
        tries = 20 if port == 0 and self.ipv6 else 1
        for attempt in range(tries):
            v4 = self._bind_one("0.0.0.0", proto, port)
            if not self.ipv6:
                return [v4]
            try:
                return [v4, self._bind_one("::", proto, v4.getsockname()[1])]
            except OSError as e:
                v4.close()
                if port != 0 or e.errno != errno.EADDRINUSE or attempt == tries - 1:
                    # filename says which wildcard was taken, for the error message
                    raise OSError(e.errno, e.strerror, "[::]") from None
        raise AssertionError("unreachable")

    def reserve(self, m: PortMapping) -> PortMapping:
        """Bind ``m``'s host port (a free one if 0, the first free of a range); returns ``m``
        with the port chosen."""
        ip = m.host_ip or "0.0.0.0"
        candidates = range(m.host_port, (m.host_port_end or m.host_port) + 1) if m.host_port \
            else [0]
        last: OSError | None = None
        for port in candidates:
            try:
                socks = self._bind(m.host_ip, m.proto, port)
            except OSError as e:
                if e.filename == "[::]":
                    ip = "[::]"
                if e.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise PortAllocated(f"Bind for {ip}:{port} failed: {e.strerror}") from None
                last = e
                continue
            chosen = socks[0].getsockname()[1]
            self._held[(m.host_ip, m.proto, chosen)] = socks
            return PortMapping(m.container_port, m.proto, m.host_ip, chosen)
        shown = f"{m.host_port}-{m.host_port_end}" if m.host_port_end else str(m.host_port)
        raise PortAllocated(f"driver failed programming external connectivity: Bind for "
                            f"{ip}:{shown} failed: port is already allocated") from last

    def release(self, m: PortMapping) -> None:
        for s in self._held.pop((m.host_ip, m.proto, m.host_port), []):
            s.close()

    def close(self) -> None:
        for socks in self._held.values():
            for s in socks:
                s.close()
        self._held.clear()
