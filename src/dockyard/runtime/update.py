"""``update``: change the resource limits of a live container (runc's flags or ``-r FILE``)."""

from __future__ import annotations

import msgspec

from dockyard.oci.runtime import LinuxCPU, LinuxMemory, LinuxPids, LinuxResources

from .container import Container
from .errors import InvalidArgument, InvalidState
from .pause import _manager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cli import Globals


def update(root: str, container_id: str, resources: LinuxResources) -> None:
    c = Container(root, container_id).load()
    if c.status() == "stopped":
        raise InvalidState("container not running")
    _manager(c).update(resources)


def parse_bytes(value: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    v = value.strip().lower().rstrip("b")
    try:
        if v == "-1":
            return -1
        if v and v[-1] in units:
            return int(float(v[:-1]) * units[v[-1]])
        return int(v)
    except ValueError:
        raise InvalidArgument(f"invalid size {value!r}: expected bytes, or a number with k, m or g") from None


def cli(verb: str, argv: list[str], g: Globals) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="dockyard-runtime update")
    p.add_argument("-r", "--resources", default=None)
    p.add_argument("--memory", default=None)
    p.add_argument("--memory-swap", default=None)
    p.add_argument("--memory-reservation", default=None)
    p.add_argument("--cpu-shares", type=int, default=None)
    p.add_argument("--cpu-quota", type=int, default=None)
    p.add_argument("--cpu-period", type=int, default=None)
    p.add_argument("--cpuset-cpus", default=None)
    p.add_argument("--cpuset-mems", default=None)
    p.add_argument("--pids-limit", type=int, default=None)
    p.add_argument("id")
    a = p.parse_args(argv)
    if a.resources:
        try:
            with open(a.resources, "rb") as f:
                res = msgspec.json.decode(f.read(), type=LinuxResources)
        except (OSError, msgspec.ValidationError, msgspec.DecodeError) as e:
            raise InvalidArgument(f"--resources {a.resources}: {e}") from None
    else:
        mem = LinuxMemory(
            limit=parse_bytes(a.memory) if a.memory else None,
            swap=parse_bytes(a.memory_swap) if a.memory_swap else None,
            reservation=parse_bytes(a.memory_reservation) if a.memory_reservation else None,
        )
        cpu = LinuxCPU(shares=a.cpu_shares, quota=a.cpu_quota, period=a.cpu_period,
                       cpus=a.cpuset_cpus, mems=a.cpuset_mems)
        res = LinuxResources(
            memory=mem if mem != LinuxMemory() else None,
            cpu=cpu if cpu != LinuxCPU() else None,
            pids=LinuxPids(limit=a.pids_limit) if a.pids_limit is not None else None,
        )
    update(g.root, a.id, res)
    return 0
