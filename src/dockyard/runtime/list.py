"""``list``: every container under --root, as runc's table or JSON."""

from __future__ import annotations

import json

from .container import Container, list_ids
from .errors import ContainerNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .cli import Globals


def list_states(root: str) -> list[dict[str, Any]]:
    out = []
    for cid in list_ids(root):
        try:
            out.append(Container(root, cid).load().oci_state())
        except ContainerNotFound:
            continue  # deleted while we looked
    return out


def table(rows: list[list[str]]) -> str:
    """Go's tabwriter as runc sets it up: min width 12, padding 3."""
    widths = [max(12, *(len(r[i]) + 3 for r in rows)) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])] + [r[-1]]
        lines.append("".join(cells).rstrip() if r[-1] == "" else "".join(cells))
    return "\n".join(lines) + "\n"


def cli(verb: str, argv: list[str], g: Globals) -> int:
    fmt, quiet = "table", False
    it = iter(argv)
    for a in it:
        if a in ("-q", "--quiet"):
            quiet = True
        elif a in ("-f", "--format"):
            fmt = next(it, "table")
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        else:
            raise SystemExit(f"flag provided but not defined: {a}")
    states = list_states(g.root)
    if quiet:
        for s in states:  # nothing at all when there is none, as runc (not an empty line)
            print(s["id"])
    elif fmt == "json":
        print(json.dumps(states))
    else:
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"] or "root"]
                 for s in states]
        print(table(rows), end="")
    return 0
