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


class PortReservations:
    def __init__(self) -> None:
        self._held: dict[Key, socket.socket] = {}

    def _bind(self, ip: str, proto: str, port: int) -> socket.socket:
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        if proto == "sctp":
            kind = socket.SOCK_STREAM  # reserve the number; SCTP sockets may be compiled out
        s = socket.socket(fam, kind)
        try:
            s.bind((ip or "0.0.0.0", port))
        except BaseException:
            s.close()
            raise
        return s

    def reserve(self, m: PortMapping) -> PortMapping:
        """Bind ``m``'s host port (a free one if 0, the first free of a range); returns ``m``
        with the port chosen."""
        ip = m.host_ip or "0.0.0.0"
        candidates = range(m.host_port, (m.host_port_end or m.host_port) + 1) if m.host_port \
            else [0]
        last: OSError | None = None
        for port in candidates:
            try:
                s = self._bind(m.host_ip, m.proto, port)
            except OSError as e:
                if e.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise PortAllocated(f"Bind for {ip}:{port} failed: {e.strerror}") from None
                last = e
                continue
            chosen = s.getsockname()[1]
            self._held[(m.host_ip, m.proto, chosen)] = s
            return PortMapping(m.container_port, m.proto, m.host_ip, chosen)
        shown = f"{m.host_port}-{m.host_port_end}" if m.host_port_end else str(m.host_port)
        raise PortAllocated(f"driver failed programming external connectivity: Bind for "
                            f"{ip}:{shown} failed: port is already allocated") from last

    def release(self, m: PortMapping) -> None:
        s = self._held.pop((m.host_ip, m.proto, m.host_port), None)
        if s is not None:
            s.close()

    def close(self) -> None:
        for s in self._held.values():
            s.close()
        self._held.clear()
