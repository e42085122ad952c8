"""The foreground side of a terminal: copy between our stdio and the pty master."""

from __future__ import annotations

import contextlib
import os
import select

from .delete import wait_child


def copy_until_exit(master: int, pid: int) -> int:
    """Copy stdin → master and master → stdout until the pty closes; the exit status."""
    restore = None
    if os.isatty(0):
        import termios
        import tty

        restore = termios.tcgetattr(0)
        tty.setraw(0)
    try:
        fds = [master, 0]
        while True:
            r, _, _ = select.select(fds, [], [])
            if master in r:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave closed
                    data = b""
                if not data:
                    break
                os.write(1, data)
            if 0 in r:
                data = os.read(0, 65536)
                if not data:
                    fds.remove(0)
                else:
                    os.write(master, data)
    finally:
        if restore is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, restore)
        with contextlib.suppress(OSError):
            os.close(master)
    return wait_child(pid)
