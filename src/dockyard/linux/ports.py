"""Free TCP/UDP ports for servers that must be told their port up front.

A port the kernel hands out for ``bind(port 0)`` comes from the ephemeral
range (``net.ipv4.ip_local_port_range``, 32768-60999 by default), the same
range every outgoing connection on the machine draws its source port from.
Closing the probe socket and starting a child (etcd, a registry) on that port
races all of them: under load one connect() takes the port first and the child
dies with "address already in use". So we pick below the ephemeral range, at
random, and check the port binds (on TCP and UDP when asked) before returning
it; callers that start a child still retry on EADDRINUSE, since nothing can
hold a port for another process.
"""

from __future__ import annotations

import random
import socket

_FLOOR = 10000


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _binds(host: str, port: int, kinds: tuple[int, ...]) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for kind in kinds:
        with socket.socket(family, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_port(host: str = "127.0.0.1", *, udp: bool = False) -> int:
    """A port on ``host`` that nothing holds now and that outgoing connections
    will not take: TCP (and UDP too with ``udp=True``)."""
    high = _ephemeral_low() - 1
    low = _FLOOR if high - _FLOOR > 1000 else 1024
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(low, high)
        if _binds(host, port, kinds):
            return port
    raise OSError(f"no free port on {host} in {low}-{high}")
