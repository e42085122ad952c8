"""``pause`` and ``resume``: freeze and thaw every process through the cgroup freezer."""

from __future__ import annotations

from .container import Container, new_cgroup
from .errors import CgroupsError, InvalidState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cgroups import CgroupManager
    from .cli import Globals


def _manager(c: Container) -> CgroupManager:
    mgr = new_cgroup(c.state.get("cgroupsPath") or "", None)
    if mgr is None or not mgr.exists():
        raise CgroupsError(f"container {c.id} has no cgroup to freeze")
    return mgr


def pause(root: str, container_id: str) -> None:
    c = Container(root, container_id).load()
    status = c.status()
    if status not in ("running", "created"):
        raise InvalidState("container not running" if status == "stopped" else f"container is {status}")
    _manager(c).freeze()
    c.state["paused"] = True
    c.save()


def resume(root: str, container_id: str) -> None:
    c = Container(root, container_id).load()
    if c.status() != "paused":
        raise InvalidState("container not paused")
    _manager(c).thaw()
    c.state["paused"] = False
    c.save()


def cli(verb: str, argv: list[str], g: Globals) -> int:
    if len(argv) != 1:
        raise SystemExit(f"usage: dockyard-runtime {verb} <container-id>")
    (pause if verb == "pause" else resume)(g.root, argv[0])
    return 0
