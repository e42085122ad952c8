"""Signal forwarding for ``run`` and ``exec`` in the foreground (runc's signal handler).

Every signal the runtime receives goes to the container process, except
SIGCHLD (ours), SIGURG (Go's preemption in runc; noise here), SIGWINCH (the
pty is resized instead) and the uncatchable two.
"""

from __future__ import annotations

import contextlib
import os
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

NOT_FORWARDED = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGKILL, signal.SIGSTOP}


@contextlib.contextmanager
def forwarding(pid: int) -> Iterator[None]:
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    old = {}
    for sig in signal.valid_signals():
        if sig not in NOT_FORWARDED:
            try:
                old[sig] = signal.signal(sig, forward)
            except (OSError, ValueError):
                pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
