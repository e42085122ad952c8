"""``events --stats``: one stats event in runc's JSON shape (one shot; no stream)."""

from __future__ import annotations

import json

from .container import Container
from .errors import InvalidArgument, InvalidState
from .pause import _manager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .cgroups import Stats
    from .cli import Globals


def stats_json(container_id: str, s: Stats) -> dict[str, Any]:
    """runc's ``types.Event{Type: "stats", ID, Data: types.Stats}``."""
    def blkio(entries: list[Any]) -> list[dict[str, Any]]:
        return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value} for e in entries]

    m = s.memory
    return {
        "type": "stats",
        "id": container_id,
        "data": {
            "cpu": {
                "usage": {
                    "total": s.cpu.usage_total_ns,
                    "percpu": s.cpu.percpu_ns,
                    "kernel": s.cpu.usage_kernel_ns,
                    "user": s.cpu.usage_user_ns,
                },
                "throttling": {
                    "periods": 0,
                    "throttledPeriods": s.cpu.throttled_periods,
                    "throttledTime": s.cpu.throttled_time_ns,
                },
            },
            "memory": {
                "cache": m.cache,
                "usage": {"limit": m.limit, "usage": m.usage, "max": m.max_usage, "failcnt": 0},
                "swap": {"limit": m.swap_limit, "usage": m.swap_usage},
                "raw": m.raw,
            },
            "pids": {"current": s.pids_current, "limit": s.pids_limit},
            "blkio": {
                "ioServiceBytesRecursive": blkio(s.blkio_bytes),
                "ioServicedRecursive": blkio(s.blkio_ios),
            },
            "hugetlb": {},
            "intel_rdt": {},
            "network_interfaces": None,
        },
    }


def stats(root: str, container_id: str) -> Stats:
    c = Container(root, container_id).load()
    if c.status() == "stopped":
        raise InvalidState("container not running")
    return _manager(c).stats()


def cli(verb: str, argv: list[str], g: Globals) -> int:
    rest = [a for a in argv if a not in ("--stats",)]
    if "--stats" not in argv:
        raise InvalidArgument("events: only --stats (one shot) is supported")
    if len(rest) != 1:
        raise SystemExit("usage: dockyard-runtime events --stats <container-id>")
    print(json.dumps(stats_json(rest[0], stats(g.root, rest[0]))))
    return 0
