"""``attach``: a client joins a container's stdio.

The session subscribes to the container's output (through the supervisor
connection, or queued on the entry until ``start`` makes one) and forwards
stdin. Closing stdin closes the container's stdin only with ``StdinOnce``
(``docker run -i``), as Docker does. Detach keys (default ctrl-p,ctrl-q)
end the session without touching the container.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import detachkeys
from .base import EngineBase
from .errors import Conflict, InvalidParameter
from .shim import Stream

if TYPE_CHECKING:
    from .base import Entry

def parse_detach_keys(spec: str) -> bytes:
    """``detachkeys.parse_detach_keys``, its error as a 400."""
    try:
        return detachkeys.parse_detach_keys(spec)
    except ValueError as e:
        raise InvalidParameter(str(e)) from None


class AttachSession:
    def __init__(self, engine: EngineBase, e: Entry, stream: Stream, *, stdin: bool, stdout: bool,
                 stderr: bool, detach_keys: bytes) -> None:
        self.engine = engine
        self.entry = e
        self.stream = stream
        self.stdin = stdin
        self.streams = {1: stdout, 2: stderr}
        self.tty = e.record.Config.Tty
        self.detach_keys = detach_keys
        self._keys = detachkeys.DetachFilter(detach_keys if self.tty else b"")
        self.detached = False

    async def next(self) -> tuple[int, bytes] | None:
        """The next output chunk this client wants; None when the container is done."""
        while True:
            item = await self.stream.get()
            if item is None or self.detached:
                return None
            if self.streams.get(item[0]):
                return item

    def write(self, data: bytes) -> bool:
        """Forward stdin; False when the detach keys were typed (end the session)."""
        if not self.stdin or not data:
            return True
        data, detached = self._keys.feed(data)
        if detached:
            if data:
                self._send(data)
            self.detach()
            return False
        if data:
            self._send(data)
        return True

    def _send(self, data: bytes) -> None:
        e = self.entry
        if e.shim is not None:
            e.shim.stdin(0, data)
        else:
            e.stdin_buf += data

    def close_stdin(self) -> None:
        e = self.entry
        if not self.stdin or not e.record.Config.StdinOnce:
            return
        if e.shim is not None:
            e.shim.close_stdin(0)
        else:
            e.stdin_eof = True

    def detach(self) -> None:
        self.detached = True
        e = self.entry
        e.pending.discard(self.stream)
        if e.shim is not None:
            e.shim.unsubscribe(self.stream)
        self.stream.queue.put_nowait(None)


class AttachMixin(EngineBase):
    def attach(self, ref: str, *, stdin: bool = False, stdout: bool = True,
               stderr: bool = True, detach_keys: str | None = None) -> AttachSession:
        e = self.get(ref)
        if e.record.State.Paused:
            raise Conflict("You cannot attach to a paused container, unpause it first")
        keys = parse_detach_keys(detach_keys) if detach_keys else detachkeys.DEFAULT_DETACH_KEYS
        if e.shim is not None and not e.shim.closed:
            stream = e.shim.subscribe()
        else:
            stream = Stream()
            e.pending.add(stream)
        return AttachSession(self, e, stream, stdin=stdin and e.record.Config.OpenStdin,
                             stdout=stdout, stderr=stderr, detach_keys=keys)

    def resize(self, ref: str, h: int, w: int) -> None:
        e = self.get(ref)
        if e.shim is None:
            raise Conflict(f"Container {e.record.Id} is not running")
        e.shim.resize(0, h, w)
