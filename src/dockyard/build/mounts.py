"""``RUN --mount=…``: parsing into typed mounts (BuildKit's ``instructions/commands_runmount``).

Cache mounts with ``sharing=locked`` are used by one step at a time (an
``flock``, so across processes too); ``shared`` and ``private`` both share
the one directory (``private`` does not get a copy of its own yet).

Types: ``bind`` (default; ``from`` a stage, an image or the context,
``source``, ``target``, ``rw``), ``cache`` (``id``, ``target``,
``sharing``, ``from``, ``source``, ``mode``, ``uid``, ``gid``), ``tmpfs``
(``target``, ``size``), ``secret`` (``id``, ``target``, ``required``,
``mode``, ``uid``, ``gid``) and ``ssh`` (``id``, default ``default``;
``target``, default ``/run/buildkit/ssh_agent.<n>`` for the n-th ssh mount
of the RUN; ``required``, ``mode`` (0600), ``uid``, ``gid``).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from .errors import BuildError

_KEYS = {
    "bind": {"type", "from", "source", "src", "target", "dst", "destination", "rw", "readwrite", "readonly", "ro"},
    "cache": {"type", "id", "target", "dst", "destination", "sharing", "from", "source", "src", "mode", "uid",
              "gid", "ro", "readonly"},
    "tmpfs": {"type", "target", "dst", "destination", "size"},
    "secret": {"type", "id", "target", "dst", "destination", "required", "mode", "uid", "gid", "env"},
    "ssh": {"type", "id", "target", "dst", "destination", "required", "mode", "uid", "gid"},
}


@dataclass(frozen=True)
class RunMount:
    type: str
    target: str
    source: str = ""
    from_: str = ""
    id: str = ""
    readonly: bool = True
    sharing: str = "shared"
    size: str = ""
    required: bool = False
    mode: int | None = None
    uid: int = 0
    gid: int = 0

    def key(self) -> str:
        """What goes into the step's cache key (never a secret's value)."""
        return f"{self.type},{self.target},{self.source},{self.from_},{self.id},{self.readonly},{self.size}"


def _bool(v: str, spec: str) -> bool:
    if v in ("", "true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise BuildError(f"invalid --mount {spec!r}: expected a boolean, got {v!r}")


def parse_mount(spec: str, workdir: str = "/", ssh_index: int = 0) -> RunMount:
    """One ``--mount`` value; ``ssh_index``: how many ssh mounts this RUN had before it."""
    fields: dict[str, str] = {}
    for part in spec.split(","):
        k, _, v = part.partition("=")
        fields[k.strip().lower()] = v
    kind = fields.get("type", "bind")
    if kind not in _KEYS:
        raise BuildError(f"invalid --mount {spec!r}: unsupported mount type {kind!r} "
                         "(expected bind, cache, tmpfs, secret, ssh)")
    if fields.get("sharing", "shared") not in ("shared", "private", "locked"):
        raise BuildError(f"invalid --mount {spec!r}: sharing must be shared, private or locked")
    for k in fields:
        if k not in _KEYS[kind]:
            raise BuildError(f"invalid --mount {spec!r}: unexpected key {k!r} for type={kind}")
    target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
    sid = fields.get("id", "")
    if kind == "secret":
        if not sid and target:
            sid = posixpath.basename(target)
        if not sid:
            raise BuildError(f"invalid --mount {spec!r}: secret mounts need id=")
        target = target or f"/run/secrets/{sid}"
    if kind == "ssh":
        sid = sid or "default"
        target = target or f"/run/buildkit/ssh_agent.{ssh_index}"
    if not target:
        raise BuildError(f"invalid --mount {spec!r}: target= is required")
    if not target.startswith("/"):
        target = posixpath.join(workdir, target)
    readonly = kind in ("bind", "secret", "ssh")
    if "rw" in fields or "readwrite" in fields:
        readonly = not _bool(fields.get("rw", fields.get("readwrite", "")), spec)
    if kind == "cache" and ("ro" in fields or "readonly" in fields):
        readonly = _bool(fields.get("ro", fields.get("readonly", "")), spec)
    elif kind == "cache":
        readonly = False
    mode = int(fields["mode"], 8) if fields.get("mode") else None
    return RunMount(
        type=kind, target=posixpath.normpath(target), source=fields.get("source", fields.get("src", "")),
        from_=fields.get("from", ""), id=sid or (posixpath.normpath(target) if kind == "cache" else ""),
        readonly=readonly, sharing=fields.get("sharing", "shared"), size=fields.get("size", ""),
        required=_bool(fields.get("required", "false"), spec) if kind in ("secret", "ssh") else False,
        mode=mode, uid=int(fields.get("uid", "0") or 0), gid=int(fields.get("gid", "0") or 0),
    )
