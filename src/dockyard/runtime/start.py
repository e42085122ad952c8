"""``start``: release a created container's init (it is blocked on exec.fifo).

Opening the fifo for reading unblocks the init's open for writing; it
writes one byte and goes on to execve. The fifo is then removed, which is
what makes the status ``running``. poststart hooks run after that; their
failure is only a warning (runtime-spec).
"""

from __future__ import annotations

import os
import select

from . import hooks, jsonio
from .container import Container
from .errors import InvalidState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cli import Globals


def start(root: str, container_id: str) -> Container:
    c = Container(root, container_id).load()
    status = c.status()
    if status == "stopped":
        raise InvalidState("cannot start a container that has stopped")
    if status == "creating":
        raise InvalidState("cannot start a container that is still being created")
    if status != "created":
        raise InvalidState("cannot start an already running container")
    fd = os.open(c.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(50) and os.read(fd, 1):
                break
            if not c.init_alive():
                raise InvalidState("cannot start a container that has stopped")
    finally:
        os.close(fd)
    # No state.json write: the missing fifo is what "running" means.
    os.unlink(c.fifo)
    wire = c.config_json().get("hooks") or {}
    if wire.get("poststart"):
        hooks.run_warn(wire["poststart"], jsonio.dumps(c.oci_state(), compact=False).encode(), "poststart")
    return c


def cli(verb: str, argv: list[str], g: Globals) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        raise SystemExit('usage: dockyard-runtime start <container-id>')
    start(g.root, argv[0])
    return 0
