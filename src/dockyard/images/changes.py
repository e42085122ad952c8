"""``--change`` instructions of ``import`` (and later ``commit``): Dockerfile lines.

Each change is one Dockerfile instruction among those that only touch the
image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER,
VOLUME, WORKDIR (Docker's list for ``docker import -c``). Lines are parsed
by BuildKit's own parser (the ``dockerfile`` package), so JSON and shell
forms, ``ENV k=v`` and legacy ``ENV k v`` read as in a Dockerfile. Shell form
CMD/ENTRYPOINT become ``["/bin/sh", "-c", "…"]`` as ``docker build`` does.

``apply_changes`` edits a copy of the config and returns it; the caller's
object is never touched, so a bad change list leaves nothing half-applied.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

import dockerfile
import msgspec

from dockyard.oci.image import ContainerConfig, Empty

from .errors import InvalidChangeError

ALLOWED = (
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
)
_PORT = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?(?:/(tcp|udp|sctp))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Change:
    instruction: str
    args: tuple[str, ...]
    json: bool
    original: str


def parse_changes(lines: Iterable[str]) -> list[Change]:
    """Parse ``--change`` values; each may hold one instruction (or several, one per line)."""
    out: list[Change] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            commands = dockerfile.parse_string(line)
        except dockerfile.GoParseError as e:
            raise InvalidChangeError(f"invalid --change {line!r}: {e}") from None
        for c in commands:
            inst = c.cmd.upper()
            if inst not in ALLOWED:
                raise InvalidChangeError(
                    f"invalid --change {c.original!r}: {inst} is not a valid change command "
                    f"(expected one of {', '.join(ALLOWED)})"
                )
            if not c.value and inst not in ("CMD", "ENTRYPOINT"):
                raise InvalidChangeError(f"invalid --change {c.original!r}: {inst} requires an argument")
            out.append(Change(inst, tuple(c.value), bool(c.json), c.original))
    return out


def apply_changes(config: ContainerConfig | None, changes: Iterable[Change]) -> ContainerConfig:
    """Return a new ``ContainerConfig`` with ``changes`` applied in order."""
    cfg = msgspec.structs.replace(config) if config is not None else ContainerConfig()
    env = list(cfg.env or [])
    for ch in changes:
        match ch.instruction:
            case "CMD":
                cfg.cmd = _command(ch)
            case "ENTRYPOINT":
                cfg.entrypoint = _command(ch)
            case "ENV":
                for key, value in _pairs(ch):
                    env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            case "LABEL":
                labels = dict(cfg.labels or {})
                for key, value in _pairs(ch):
                    labels[key] = value
                cfg.labels = labels
            case "EXPOSE":
                ports = dict(cfg.exposed_ports or {})
                for word in ch.args:
                    for port in _ports(ch, word):
                        ports[port] = Empty()
                cfg.exposed_ports = ports
            case "VOLUME":
                volumes = dict(cfg.volumes or {})
                for word in ch.args:
                    if not word:
                        raise InvalidChangeError(f"invalid --change {ch.original!r}: empty volume path")
                    volumes[word] = Empty()
                cfg.volumes = volumes
            case "USER":
                cfg.user = _unquote(ch.args[0])
            case "WORKDIR":
                path = _unquote(ch.args[0])
                cfg.working_dir = posixpath.normpath(posixpath.join(cfg.working_dir or "/", path))
            case "STOPSIGNAL":
                cfg.stop_signal = ch.args[0]
            case "ONBUILD":
                trigger = ch.original.split(None, 1)[1] if " " in ch.original.strip() else ""
                if trigger.split(None, 1)[0].upper() in ("ONBUILD", "FROM", "MAINTAINER"):
                    raise InvalidChangeError(
                        f"invalid --change {ch.original!r}: {trigger.split()[0]} isn't allowed as an ONBUILD trigger"
                    )
                cfg.on_build = [*(cfg.on_build or []), trigger]
    cfg.env = env or None
    return cfg


def _command(ch: Change) -> list[str] | None:
    if ch.json:
        return list(ch.args)
    if not ch.args:
        return None
    return ["/bin/sh", "-c", " ".join(ch.args)]


def _pairs(ch: Change) -> list[tuple[str, str]]:
    if len(ch.args) % 2:
        raise InvalidChangeError(f"invalid --change {ch.original!r}: expected KEY=VALUE pairs")
    pairs = []
    for i in range(0, len(ch.args), 2):
        key = _unquote(ch.args[i])
        if not key:
            raise InvalidChangeError(f"invalid --change {ch.original!r}: empty key")
        pairs.append((key, _unquote(ch.args[i + 1])))
    return pairs


def _ports(ch: Change, word: str) -> list[str]:
    m = _PORT.fullmatch(word)
    if not m:
        raise InvalidChangeError(
            f"invalid --change {ch.original!r}: invalid port {word!r}, expected PORT[-END][/PROTO]"
        )
    start = int(m.group(1))
    end = int(m.group(2) or start)
    proto = (m.group(3) or "tcp").lower()
    if not 0 < start <= end <= 65535:
        raise InvalidChangeError(f"invalid --change {ch.original!r}: invalid port range {word!r}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def _unquote(word: str) -> str:
    """Remove shell quoting as Dockerfile word processing does ("…", '…', backslash)."""
    out: list[str] = []
    i, quote = 0, ""
    while i < len(word):
        c = word[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                out.append(c)
        elif c == "\\" and i + 1 < len(word) and (not quote or word[i + 1] in '"\\$'):
            i += 1
            out.append(word[i])
        elif c in "\"'" and (not quote or c == quote):
            quote = "" if quote else c
        else:
            out.append(c)
        i += 1
    return "".join(out)
