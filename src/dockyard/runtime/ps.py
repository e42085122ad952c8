"""``ps``: the processes of a container (the pids in its cgroup), as ``ps -ef`` rows or JSON."""

from __future__ import annotations

import json
import subprocess

from .container import Container
from .errors import InvalidState
from .kill import pids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cli import Globals


def container_pids(root: str, container_id: str) -> list[int]:
    c = Container(root, container_id).load()
    if c.status() == "stopped":
        raise InvalidState("container not running")
    return pids(c)


def cli(verb: str, argv: list[str], g: Globals) -> int:
    fmt = "table"
    rest: list[str] = []
    it = iter(argv)
    for a in it:
        if a in ("-f", "--format"):
            fmt = next(it, "table")
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        else:
            rest.append(a)
    if not rest:
        raise SystemExit("usage: dockyard-runtime ps [--format table|json] <container-id> [ps options]")
    found = container_pids(g.root, rest[0])
    if fmt == "json":
        print(json.dumps(found))
        return 0
    out = subprocess.run(["ps", *(rest[1:] or ["-ef"])], capture_output=True, text=True, check=False)
    lines = out.stdout.splitlines()
    if not lines:
        return 1
    header = lines[0]
    col = header.split().index("PID")
    print(header)
    wanted = set(found)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            print(line)
    return 0
