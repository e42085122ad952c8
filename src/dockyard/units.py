"""Docker's human units (go-units), for every table dockyard prints.

``human_duration`` is go-units' ``HumanDuration`` (``docker ps``' "Up 3
minutes", ``docker images``' "2 weeks ago"); ``human_size`` is
``HumanSizeWithPrecision(size, 3)`` in decimal units (``4.26MB``).
Kubernetes prints ages differently ("5m", "3d"): see
``cluster.apiserver.table``.
"""

from __future__ import annotations

_SIZE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    """``4.26MB``: three significant digits, powers of 1000."""
    i = 0
    while size >= 1000 and i < len(_SIZE_UNITS) - 1:
        size /= 1000
        i += 1
    return f"{size:.3g}{_SIZE_UNITS[i]}"


def human_duration(seconds: float) -> str:
    """``About a minute``, ``3 days``, ``2 weeks``, as docker prints them."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"
