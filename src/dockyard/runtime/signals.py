"""Signal forwarding for ``run`` and ``exec`` in the foreground (runc's signal handler).

Every signal the runtime receives goes to the container process, except
SIGCHLD (ours), SIGURG (Go's preemption in runc; noise here), SIGWINCH (the
pty is resized instead) and the uncatchable two.
"""

from __future__ import annotations

# ``_signal``, the C module under ``signal``: the same functions and numbers,
# without the IntEnum wrappers whose ``enum`` import costs every CLI ``run``
# several ms. (Handlers come back as plain ints; restoring them works alike.)
import _signal as signal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

NOT_FORWARDED = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGKILL, signal.SIGSTOP}


class forwarding:  # lower case: used like the function it was, ``with forwarding(pid):``
    """While inside: every forwardable signal we receive is sent to ``pid``.

    A class rather than ``contextlib.contextmanager``: contextlib is one
    more import for every ``run``.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.old: dict[int, Any] = {}

    def _forward(self, signum: int, _frame: object) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def __enter__(self) -> None:
        for sig in signal.valid_signals():
            if sig not in NOT_FORWARDED:
                try:
                    self.old[sig] = signal.signal(sig, self._forward)
                except (OSError, ValueError):
                    pass

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
