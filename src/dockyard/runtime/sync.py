"""The messages between the runtime and its setup stages (runc's sync.go).

The runtime (stage 0, ``[0:PARENT]``: the process that called create/exec)
and its children talk over one ``AF_UNIX``/``SOCK_SEQPACKET`` socketpair, so
each ``send`` is one message and never needs framing. Messages are small
JSON objects with a ``type``:

=====  ============  ==========================  ======================================
from   type          fields                      meaning
=====  ============  ==========================  ======================================
C→P    usermap       pid                         a new user namespace exists; write
                                                 uid_map/gid_map of ``pid``
P→C    usermap-ok    —                           maps written; the child may setuid(0)
C→P    init          pid                         ``[2:INIT]`` was cloned; its host pid
P→I    go-init       pid                         only with createContainer or
                                                 startContainer hooks (their state needs
                                                 the host pid); the init waits for it
I→P    hooks         —                           only with prestart or createRuntime
                                                 hooks: mounts done, before pivot_root,
                                                 run them
P→I    hooks-ok      —                           they passed (on failure P kills I)
I→P    ready         —                           create: waiting on exec.fifo;
                                                 exec: about to execve (the socket is
                                                 close-on-exec: EOF means exec worked)
*→P    error         message                     setup failed; the stage exits 1
=====  ============  ==========================  ======================================

No message starts the child: it joins the cgroup itself, first thing
(``stages.py``). "init" (from C) and the init's first message (from I) may
arrive in either order; the runtime holds I's back until it has the pid.

P = the runtime, C = ``[1:CHILD]``, I = ``[2:INIT]``.
"""

from __future__ import annotations

import _socket

from . import jsonio
from .errors import ProcessSetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_MESSAGE = 65536


# The C ``_socket`` rather than ``socket``: the latter's import (selectors,
# enum conversions of every constant) is paid by every CLI call, and the
# plain socket object has all we use (send, recv, detach, close).
Socket = _socket.socket


def socketpair() -> tuple[Socket, Socket]:
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    return a, b


def send(sock: Socket, type_: str, **fields: Any) -> None:
    fields["type"] = type_
    sock.send(jsonio.dumps(fields, compact=False).encode())


def recv(sock: Socket) -> dict[str, Any] | None:
    """The next message, or None at EOF (every peer closed its end)."""
    data = sock.recv(MAX_MESSAGE)
    if not data:
        return None
    msg: dict[str, Any] = jsonio.loads(data)
    return msg


def expect(sock: Socket, type_: str) -> dict[str, Any]:
    """Receive one message of ``type_``; an ``error`` message or EOF raises."""
    msg = recv(sock)
    if msg is None:
        raise ProcessSetupError(f"setup stage exited before sending {type_!r}")
    if msg["type"] == "error":
        raise ProcessSetupError(str(msg.get("message")))
    if msg["type"] != type_:
        raise ProcessSetupError(f"sync: expected {type_!r}, got {msg['type']!r}")
    return msg
