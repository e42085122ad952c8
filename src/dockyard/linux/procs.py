"""Processes: is a pid still alive?

Stores mark what a process is making (ingests, extract snapshots, build
containers) with its pid, and whoever opens the store next removes what dead
pids left. ``kill(pid, 0)`` asks the kernel without signalling; EPERM means
the process exists but is someone else's.
"""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
