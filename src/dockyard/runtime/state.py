"""``state``: the container's state as JSON (runc's output shape)."""

from __future__ import annotations

from . import jsonio
from .container import Container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cli import Globals


def cli(verb: str, argv: list[str], g: Globals) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        raise SystemExit("usage: dockyard-runtime state <container-id>")
    c = Container(g.root, argv[0]).load()
    print(jsonio.dumps_indent(c.oci_state()))
    return 0
