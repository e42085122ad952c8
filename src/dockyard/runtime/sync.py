"""The messages between the runtime and its setup stages (runc's sync.go).

The runtime (stage 0, ``[0:PARENT]``: the process that called create/exec)
and its children talk over one ``AF_UNIX``/``SOCK_SEQPACKET`` socketpair, so
each ``send`` is one message and never needs framing. Messages are small
JSON objects with a ``type``:

=====  ============  ==========================  ======================================
from   type          fields                      meaning
=====  ============  ==========================  ======================================
P→C    go            —                           the child is in the cgroup; go on with
                                                 the namespaces (cgroup before anything
                                                 runs in the container)
C→P    usermap       pid                         a new user namespace exists; write
                                                 uid_map/gid_map of ``pid``
P→C    usermap-ok    —                           maps written; the child may setuid(0)
C→P    init          pid                         ``[2:INIT]`` was cloned; its host pid
P→I    go-init       cgroups                     pid recorded; the init may set up.
                                                 ``cgroups``: /proc/PID/cgroup lines as
                                                 the host sees them (for cgroup mounts)
I→P    hooks         —                           mounts done, before pivot_root: run
                                                 prestart and createRuntime hooks
P→I    hooks-ok      —                           they passed (on failure P kills I)
I→P    ready         —                           create: waiting on exec.fifo;
                                                 exec: about to execve (the socket is
                                                 close-on-exec: EOF means exec worked)
*→P    error         message                     setup failed; the stage exits 1
=====  ============  ==========================  ======================================

P = the runtime, C = ``[1:CHILD]``, I = ``[2:INIT]``.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from .errors import ProcessSetupError

MAX_MESSAGE = 65536


def socketpair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)


def send(sock: socket.socket, type_: str, **fields: Any) -> None:
    fields["type"] = type_
    sock.send(json.dumps(fields).encode())


def recv(sock: socket.socket) -> dict[str, Any] | None:
    """The next message, or None at EOF (every peer closed its end)."""
    data = sock.recv(MAX_MESSAGE)
    if not data:
        return None
    msg: dict[str, Any] = json.loads(data)
    return msg


def expect(sock: socket.socket, type_: str) -> dict[str, Any]:
    """Receive one message of ``type_``; an ``error`` message or EOF raises."""
    msg = recv(sock)
    if msg is None:
        raise ProcessSetupError(f"setup stage exited before sending {type_!r}")
    if msg["type"] == "error":
        raise ProcessSetupError(str(msg.get("message")))
    if msg["type"] != type_:
        raise ProcessSetupError(f"sync: expected {type_!r}, got {msg['type']!r}")
    return msg
