"""Where a container's cgroup lives: ``linux.cgroupsPath`` and the host's mounts.

cgroupsPath forms (runc's):

- ``/a/b``: absolute, from the root of every hierarchy;
- ``a/b``: relative to the runtime's own cgroup in each hierarchy;
- ``slice:prefix:name``: the systemd form. We never talk to systemd; we
  translate it to the cgroupfs path systemd would use: the slice expanded
  (``a-b.slice`` → ``/a.slice/a-b.slice``, default ``system.slice``) and the
  unit ``prefix-name.scope`` (or ``name`` itself when it ends in ``.slice``).

Every path component is checked: no ``..``, no ``.``, no NUL or newline, so a
container can never name a cgroup outside the hierarchy's mount point.

Host detection reads /proc/self/mountinfo once per process:
``v2`` (cgroup2 at /sys/fs/cgroup), ``hybrid`` (v1 controllers plus a cgroup2
mount elsewhere, usually /sys/fs/cgroup/unified) or ``v1``.
"""

from __future__ import annotations

from .errors import InvalidCgroupPathError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    Mode = Literal["v1", "v2", "hybrid"]

CGROUP_ROOT = "/sys/fs/cgroup"


class _Record:
    """A small immutable record (what a NamedTuple gives, without ``typing``).

    The CLI imports this module once per container: neither dataclasses
    (which import ``inspect``) nor ``typing.NamedTuple`` are free.
    """

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"


class CgroupPath(_Record):
    """A parsed cgroupsPath: ``inner`` has no leading slash; ``relative`` to our own cgroup."""

    __slots__ = ("inner", "relative")

    def __init__(self, inner: str, relative: bool) -> None:
        self.inner = inner
        self.relative = relative


def _check_components(parts: list[str], original: str) -> None:
    for p in parts:
        if p in (".", ".."):
            raise InvalidCgroupPathError(
                f"linux.cgroupsPath: {original!r}: '{p}' components are not allowed"
            )
        if "\x00" in p or "\n" in p:
            raise InvalidCgroupPathError(
                f"linux.cgroupsPath: {original!r}: NUL and newline are not allowed"
            )


def expand_slice(slice_name: str) -> str:
    """systemd's slice path: ``a-b-c.slice`` → ``a.slice/a-b.slice/a-b-c.slice``."""
    if not slice_name.endswith(".slice") or "/" in slice_name:
        raise InvalidCgroupPathError(
            f"linux.cgroupsPath: invalid slice name {slice_name!r}, expected NAME.slice"
        )
    if slice_name == "-.slice":
        return ""
    base = slice_name[: -len(".slice")]
    if base.startswith("-") or base.endswith("-") or "--" in base or not base:
        raise InvalidCgroupPathError(f"linux.cgroupsPath: invalid slice name {slice_name!r}")
    out: list[str] = []
    prefix = ""
    for part in base.split("-"):
        prefix = f"{prefix}-{part}" if prefix else part
        out.append(prefix + ".slice")
    return "/".join(out)


def parse(cgroups_path: str) -> CgroupPath:
    """Parse ``linux.cgroupsPath`` into a path inside each hierarchy."""
    if not cgroups_path:
        raise InvalidCgroupPathError("linux.cgroupsPath: empty path")
    if not cgroups_path.startswith("/") and ":" in cgroups_path:
        pieces = cgroups_path.split(":")
        if len(pieces) != 3:
            raise InvalidCgroupPathError(
                f"linux.cgroupsPath: {cgroups_path!r}: expected 'slice:prefix:name' "
                "for the systemd form"
            )
        slice_name, prefix, name = pieces
        if not name or "/" in name or "/" in prefix:
            raise InvalidCgroupPathError(
                f"linux.cgroupsPath: {cgroups_path!r}: name must be non-empty, without '/'"
            )
        parent = expand_slice(slice_name or "system.slice")
        if name.endswith(".slice"):
            unit = name
        else:
            unit = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
        parts = [p for p in (parent.split("/") + [unit]) if p]
        _check_components(parts, cgroups_path)
        return CgroupPath("/".join(parts), relative=False)
    relative = not cgroups_path.startswith("/")
    parts = [p for p in cgroups_path.split("/") if p]
    _check_components(parts, cgroups_path)
    if not parts:
        raise InvalidCgroupPathError(
            f"linux.cgroupsPath: {cgroups_path!r} names the root cgroup; a container needs its own"
        )
    return CgroupPath("/".join(parts), relative=relative)


# --- the host --------------------------------------------------------------------


class Hierarchy(_Record):
    """One mounted hierarchy: its mount point and the cgroup mounted there."""

    __slots__ = ("mountpoint", "root", "controllers")

    def __init__(self, mountpoint: str, root: str, controllers: tuple[str, ...]) -> None:
        self.mountpoint = mountpoint
        self.root = root  # the cgroup at the mount point (not "/" inside a cgroup namespace/bind)
        self.controllers = controllers  # v1: ("cpu", "cpuacct") or ("name=systemd",); v2: ()


_V1_OPTIONS = frozenset(
    {"rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"}
)


class Host(_Record):
    __slots__ = ("mode", "v1", "unified")

    def __init__(self, mode: Mode, v1: dict[str, Hierarchy], unified: Hierarchy | None) -> None:
        self.mode: Mode = mode
        self.v1 = v1  # controller → hierarchy
        self.unified = unified

    def __hash__(self) -> int:  # v1 is a dict: hash by identity, as a tuple holding it could not
        return id(self)


def _unescape(s: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1 : i + 4].isdigit():
            out.append(chr(int(s[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> Host:
    v1: dict[str, Hierarchy] = {}
    unified: Hierarchy | None = None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        fstype = rfields[0]
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            # Prefer the canonical mount point when cgroup2 is mounted twice.
            if unified is None or mountpoint in (CGROUP_ROOT, CGROUP_ROOT + "/unified"):
                unified = Hierarchy(mountpoint, root, ())
        elif fstype == "cgroup":
            ctrls = tuple(
                o
                for o in rfields[2].split(",")
                if o.startswith("name=") or ("=" not in o and o not in _V1_OPTIONS)
            )
            h = Hierarchy(mountpoint, root, ctrls)
            for c in ctrls:
                # First mount wins (bind mounts of the same hierarchy come later).
                v1.setdefault(c, h)
    if unified is not None and unified.mountpoint == CGROUP_ROOT and not v1:
        return Host("v2", {}, unified)
    if v1:
        return Host("hybrid" if unified is not None else "v1", v1, unified)
    if unified is not None:
        return Host("v2", {}, unified)
    return Host("v1", {}, None)


_HOST: list[Host] = []  # the cache: functools (and collections under it) cost each CLI call


def host() -> Host:
    """This host's cgroup layout (read once per process)."""
    if not _HOST:
        with open("/proc/self/mountinfo") as f:
            _HOST.append(parse_mountinfo(f.read()))
    return _HOST[0]


def own_cgroups() -> dict[str, str]:
    """/proc/self/cgroup as controller → path (v2's entry under the key ``""``)."""
    out: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _id, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                out[c] = path
    return out


def resolve(h: Hierarchy, key: str, cg: CgroupPath) -> str:
    """The directory of ``cg`` in hierarchy ``h`` (``key``: a controller, or "" for v2)."""
    if cg.relative:
        own = own_cgroups().get(key, "/")
        base = own
    else:
        base = "/"
    # Inside a cgroup namespace or a bind mount the mount shows the cgroup
    # ``h.root``; paths in /proc/self/cgroup are relative to that too.
    full = "/".join(p for p in (base.strip("/"), cg.inner) if p)
    if h.root not in ("/", "") and full.startswith(h.root.strip("/") + "/"):
        full = full[len(h.root.strip("/")) + 1 :]
    return f"{h.mountpoint}/{full}"
