"""``run``: create, start and (unless ``--detach``) wait, then delete.

In the foreground the runtime stays the init's parent (``CLONE_PARENT``),
forwards every signal it gets to the init (runc's signal handler: all but
SIGCHLD, SIGURG and SIGWINCH, which resizes the pty), returns the
container's exit status (128+N for a signal) and removes the container.
With ``process.terminal`` and no ``--console-socket``, the runtime holds the
pty master itself and copies it to and from its own stdio.
"""

from __future__ import annotations

import os

from . import jsonio
from .create import create, parse_create_args
from .delete import delete, wait_child
from .signals import forwarding
from .start import start

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from .cli import Globals

def run(
    root: str,
    container_id: str,
    bundle: str,
    *,
    detach: bool = False,
    console_socket: str | None = None,
    pid_file: str | None = None,
    no_pivot: bool = False,
    preserve_fds: int = 0,
    keep: bool = False,
) -> int:
    terminal_pair: tuple[socket.socket, socket.socket] | None = None
    if not detach and not console_socket and _wants_terminal(bundle):
        import socket

        terminal_pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    c = create(root, container_id, bundle, console_socket=console_socket, pid_file=pid_file,
               no_pivot=no_pivot, preserve_fds=preserve_fds, detach=detach,
               console_fd=terminal_pair[1].fileno() if terminal_pair else -1)
    pid = c.pid
    if detach:
        start(root, container_id)
        return 0
    master = -1
    if terminal_pair is not None:
        from .console import receive_master

        terminal_pair[1].close()
        master = receive_master(terminal_pair[0])
        terminal_pair[0].close()

    try:
        with forwarding(pid):
            start(root, container_id)
            if master >= 0:
                from .tty import copy_until_exit

                status = copy_until_exit(master, pid)
            else:
                status = wait_child(pid)
    finally:
        if not keep:
            delete(root, container_id, force=True)
    return status


def _wants_terminal(bundle: str) -> bool:
    """``process.terminal``, peeked at with json (``create`` then decodes and checks it all:
    a second full decode here cost every ``run``)."""
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            return jsonio.loads(f.read()).get("process", {}).get("terminal") is True
    except (OSError, ValueError, AttributeError):
        return False  # create reports what is wrong


def cli(verb: str, argv: list[str], g: Globals) -> int:
    a = parse_create_args(verb, argv)
    return run(g.root, a.id, a.bundle, detach=a.detach, console_socket=a.console_socket,
               pid_file=a.pid_file, no_pivot=a.no_pivot, preserve_fds=a.preserve_fds, keep=a.keep)
