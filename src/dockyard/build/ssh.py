"""``--ssh default[=SOCKET]`` and ``RUN --mount=type=ssh``: ssh agent forwarding for one step.

``parse_ssh`` takes ``docker build``'s ``--ssh`` values: ``ID`` (the agent
of ``$SSH_AUTH_SOCK``) or ``ID=SOCKET``; only agent sockets are forwarded
(not key files). A RUN that mounts one gets a private socket of its own
(``AgentProxy``: a fresh unix socket in the builder's work dir with the
mount's ``mode``/``uid``/``gid``, relaying each connection to the agent)
bind-mounted at its target, and ``SSH_AUTH_SOCK`` pointing there for that
step only. The agent's path and keys never reach a layer, the history or a
cache key (the key holds the mount's id and target only).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Mapping

from .errors import SecretError


def parse_ssh(spec: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``default`` / ``default=/path/agent.sock`` → (id, socket path), checked to be a socket."""
    environ = os.environ if environ is None else environ
    sid, eq, path = spec.partition("=")
    sid = sid.strip()
    if not sid:
        raise SecretError(f"invalid --ssh {spec!r}: expected ID or ID=SOCKET (e.g. default)")
    if not eq or not path:
        path = environ.get("SSH_AUTH_SOCK", "")
        if not path:
            raise SecretError(f"--ssh {sid}: SSH_AUTH_SOCK is not set (start ssh-agent or give {sid}=SOCKET)")
    if "," in path:
        raise SecretError(f"invalid --ssh {spec!r}: one agent socket per id (key files are not supported)")
    try:
        st = os.stat(path)
    except OSError as e:
        raise SecretError(f"--ssh {sid}: cannot use {path}: {e.strerror}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise SecretError(f"--ssh {sid}: {path} is not a socket (expected an ssh agent's socket; "
                          "key files are not supported)")
    return sid, path


class AgentProxy:
    """A unix socket at ``path`` relaying every connection to the agent at ``agent``."""

    def __init__(self, agent: str, path: str, mode: int, uid: int, gid: int) -> None:
        self.agent = agent
        self.path = path
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        self._listener.listen(16)
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="ssh-agent-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(self.agent)
            except OSError:
                conn.close()  # the agent went away: the client sees the connection end
                continue
            with self._lock:
                if self._closed:
                    conn.close()
                    upstream.close()
                    return
                self._conns += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        # shutdown wakes the accept() blocked in the thread; close alone may not
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(5)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
