"""Terminals: a pty made inside the container, its master sent out over a socket.

As in runc: with ``process.terminal`` the init opens a pty from the
container's own devpts (after pivot_root, so the slave is a /dev/pts entry
of the container), makes the slave its controlling terminal and stdio, binds
it over /dev/console, and sends the master over ``--console-socket`` with
SCM_RIGHTS. Whoever holds the master (a shim, the engine, ``run`` in the
foreground) copies bytes to and from it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios

from dockyard.linux import syscalls as sc


def setup_in_container(console_fd: int, height: int = 0, width: int = 0) -> None:
    """In ``[2:INIT]``, after pivot_root and setsid."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    if height or width:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    sock = socket.socket(fileno=console_fd)
    try:
        socket.send_fds(sock, [name.encode()], [master])
    finally:
        sock.close()
        os.close(master)
    console = "/dev/console"
    try:
        if not os.path.exists(console):
            os.close(os.open(console, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        sc.mount(name, console, None, sc.MS_BIND)
    except OSError:
        pass  # no /dev to bind into (a rootfs without /dev): the pty still works
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def receive_master(sock: socket.socket) -> int:
    """The runtime side: the pty master the init sent."""
    _msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise OSError("console socket: no file descriptor received")
    return fds[0]


def connect(path: str) -> int:
    """Connect to ``--console-socket`` and return the connected fd (inheritable)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"--console-socket {path!r}: {e.strerror}") from None
    return sock.detach()
