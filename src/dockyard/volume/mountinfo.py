"""Reading ``/proc/self/mountinfo``: is a path mounted, and how many times.

The local driver asks before every mount and unmount, so a daemon that
was killed with volumes mounted neither mounts them a second time nor
leaves them behind (a mount stacked twice on one path shows twice here).
Paths are unescaped the way the kernel escapes them (``\\040`` for space).
"""

from __future__ import annotations

import re

_ESC = re.compile(r"\\([0-7]{3})")


def _unescape(s: str) -> str:
    return _ESC.sub(lambda m: chr(int(m.group(1), 8)), s)


def mountpoints() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [_unescape(line.split()[4]) for line in f]


def count(path: str) -> int:
    """How many mounts sit on exactly ``path`` (stacked mounts count each)."""
    return sum(1 for m in mountpoints() if m == path)


def under(path: str) -> list[str]:
    """Mount points at ``path`` or below it."""
    prefix = path.rstrip("/") + "/"
    return [m for m in mountpoints() if m == path or m.startswith(prefix)]
