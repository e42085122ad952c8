"""Dockerfile text → typed instructions grouped into stages.

The lexical work (directives, continuations, comments, heredocs, JSON
form, flags) is BuildKit's own Go parser through the ``dockerfile``
package; this module turns its nodes into ``instructions`` and checks what
BuildKit checks after parsing: known instruction names, known flags per
instruction, argument counts, ``ONBUILD`` not chaining ``ONBUILD``/``FROM``.
The package reports some syntax errors without a line; we find it as the
shortest prefix of the file that fails the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import dockerfile

from . import instructions as ins
from .errors import DockerfileError

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")

# Flags each instruction accepts; True = repeatable.
FLAGS: dict[str, dict[str, bool]] = {
    "FROM": {"platform": False},
    "RUN": {"mount": True, "network": False, "security": False},
    "COPY": {"from": False, "chown": False, "chmod": False, "link": False, "parents": False, "exclude": True},
    "ADD": {"chown": False, "chmod": False, "link": False, "parents": False, "exclude": True,
            "checksum": False, "keep-git-dir": False},
    "HEALTHCHECK": {"interval": False, "timeout": False, "start-period": False, "start-interval": False,
                    "retries": False},
}
_BOOL_FLAGS = {"link", "parents", "keep-git-dir"}
KNOWN = {"FROM", "RUN", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "EXPOSE", "VOLUME", "USER",
         "WORKDIR", "SHELL", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "COPY", "ADD", "MAINTAINER"}


@dataclass
class Stage:
    index: int
    name: str  # lower-cased AS name, "" when unnamed
    source: ins.From
    instructions: list[ins.Instruction] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or str(self.index)


@dataclass
class Dockerfile:
    stages: list[Stage]
    global_args: list[ins.Arg]
    escape: str = "\\"
    syntax: str = ""


def directives(text: str) -> dict[str, str]:
    """The parser directives at the top (``# syntax=``, ``# escape=``, ``# check=``)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        out[m.group(1).lower()] = m.group(2)
    return out


def _locate(text: str, message: str) -> int | None:
    lines = text.splitlines(keepends=True)
    for n in range(1, len(lines) + 1):
        try:
            dockerfile.parse_string("".join(lines[:n]))
        except dockerfile.GoParseError as e:
            if str(e) == message:
                return n
    return None


def parse(text: str) -> Dockerfile:
    """Parse a whole Dockerfile. DockerfileError names the line and the problem."""
    d = directives(text)
    escape = d.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(f"invalid escape token {escape!r} does not match ` or \\", 1)
    try:
        nodes = dockerfile.parse_string(text)
    except dockerfile.GoParseError as e:
        raise DockerfileError(str(e), _locate(text, str(e))) from None
    stages: list[Stage] = []
    global_args: list[ins.Arg] = []
    for node in nodes:
        inst = instruction(node, escape)
        if isinstance(inst, ins.From):
            if inst.name and any(s.name == inst.name for s in stages):
                raise DockerfileError(f"duplicate stage name {inst.name!r}", inst.line)
            stages.append(Stage(len(stages), inst.name, inst))
        elif not stages:
            if not isinstance(inst, ins.Arg):
                raise DockerfileError(f"{node.cmd.upper()} before the first FROM: only ARG may come "
                                      "before FROM", node.start_line)
            global_args.append(inst)
        else:
            stages[-1].instructions.append(inst)
    if not stages:
        raise DockerfileError("the Dockerfile has no FROM instruction (no build stage)")
    return Dockerfile(stages, global_args, escape, d.get("syntax", ""))


def _flags(cmd: str, raw: tuple[str, ...], line: int) -> dict[str, list[str]]:
    allowed = FLAGS.get(cmd, {})
    out: dict[str, list[str]] = {}
    for f in raw:
        if not f.startswith("--"):
            raise DockerfileError(f"{cmd}: bad flag {f!r}", line)
        name, eq, value = f[2:].partition("=")
        if name not in allowed:
            raise DockerfileError(f"unknown flag: --{name} (for {cmd})", line)
        if not eq:
            if name not in _BOOL_FLAGS:
                raise DockerfileError(f"{cmd}: flag --{name} needs a value (--{name}=…)", line)
            value = "true"
        if name in _BOOL_FLAGS and value not in ("true", "false"):
            raise DockerfileError(f"{cmd}: flag --{name} expects true or false, got {value!r}", line)
        if name in out and not allowed[name]:
            raise DockerfileError(f"{cmd}: flag --{name} given twice", line)
        out.setdefault(name, []).append(value)
    return out


def _one(flags: dict[str, list[str]], name: str) -> str:
    return flags.get(name, [""])[-1]


def _heredocs(node: dockerfile.Command) -> list[ins.Heredoc]:
    out = []
    marks = re.findall(r"<<(-?)([\"']?)([A-Za-z0-9_.-]+)\2", " ".join(node.value))
    quoted = {name: bool(q) for _, q, name in marks}
    chomp = {name: bool(dash) for dash, _, name in marks}
    for h in node.heredocs:
        content = h.content
        if chomp.get(h.name):
            content = "".join(line.lstrip("\t") for line in content.splitlines(keepends=True))
        out.append(ins.Heredoc(h.name, content, not quoted.get(h.name, False), chomp.get(h.name, False)))
    return out


def instruction(node: dockerfile.Command, escape: str = "\\") -> ins.Instruction:
    """One parsed node → its typed instruction."""
    cmd = node.cmd.upper()
    line = node.start_line
    if cmd not in KNOWN:
        raise DockerfileError(f"unknown instruction: {node.cmd}", line)
    flags = _flags(cmd, node.flags, line)
    value = list(node.value)
    base = {"line": line, "original": node.original}
    if cmd not in ("ONBUILD",) and not value and cmd not in ("HEALTHCHECK",):
        raise DockerfileError(f"{cmd} requires at least one argument", line)
    if cmd == "FROM":
        if len(value) not in (1, 3) or (len(value) == 3 and value[1].lower() != "as"):
            raise DockerfileError("FROM requires either one or three arguments: FROM <image> [AS <name>]", line)
        name = value[2].lower() if len(value) == 3 else ""
        if name and not re.fullmatch(r"[a-z][a-z0-9._-]*", name):
            raise DockerfileError(f"invalid name for build stage: {value[2]!r}, name can't start with a "
                                  "number or contain symbols", line)
        return ins.From(**base, base=value[0], name=name, platform=_one(flags, "platform"))
    if cmd == "RUN":
        return ins.Run(**base, command=value, json=node.json, mounts=flags.get("mount", []),
                       network=_one(flags, "network"), security=_one(flags, "security"),
                       heredocs=_heredocs(node))
    if cmd in ("COPY", "ADD"):
        if len(value) < 2:
            raise DockerfileError(f"{cmd} requires at least two arguments, but only one was provided. "
                                  "Destination could not be determined", line)
        return ins.Copy(**base, sources=value[:-1], dest=value[-1], add=cmd == "ADD",
                        from_=_one(flags, "from"), chown=_one(flags, "chown"), chmod=_one(flags, "chmod"),
                        link=_one(flags, "link") == "true", parents=_one(flags, "parents") == "true",
                        exclude=flags.get("exclude", []), checksum=_one(flags, "checksum"),
                        keep_git_dir=_one(flags, "keep-git-dir") == "true", heredocs=_heredocs(node))
    if cmd in ("ENV", "LABEL"):
        if len(value) % 2:
            raise DockerfileError(f"{cmd} must have two arguments", line)
        pairs = [(value[i], value[i + 1]) for i in range(0, len(value), 2)]
        return ins.KeyValues(**base, pairs=pairs, label=cmd == "LABEL")
    if cmd == "ARG":
        args: list[tuple[str, str | None]] = []
        for v in value:
            k, eq, d = v.partition("=")
            if not k:
                raise DockerfileError(f"ARG names can not be blank: {v!r}", line)
            args.append((k, d if eq else None))
        return ins.Arg(**base, args=args)
    if cmd in ("CMD", "ENTRYPOINT", "SHELL"):
        if cmd == "SHELL" and not node.json:
            raise DockerfileError("SHELL requires the arguments to be in JSON form", line)
        return ins.Command(**base, kind=cmd, command=value, json=node.json)
    if cmd in ("EXPOSE", "VOLUME"):
        return ins.Words(**base, kind=cmd, words=value, json=node.json)
    if cmd in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
        if len(value) != 1 and cmd != "MAINTAINER":
            raise DockerfileError(f"{cmd} requires exactly one argument", line)
        return ins.Single(**base, kind=cmd, value=" ".join(value))
    if cmd == "HEALTHCHECK":
        if not value:
            raise DockerfileError("HEALTHCHECK requires an argument", line)
        kind = value[0].upper()
        if kind == "NONE":
            if len(value) > 1 or flags:
                raise DockerfileError("HEALTHCHECK NONE takes no arguments", line)
            return ins.Healthcheck(**base, test=["NONE"])
        if kind != "CMD" or len(value) < 2:
            raise DockerfileError("HEALTHCHECK expects CMD <command> or NONE", line)
        rest = value[1:]
        test = ["CMD", *rest] if node.json else ["CMD-SHELL", rest[0]]
        return ins.Healthcheck(**base, test=test, interval=_one(flags, "interval"),
                               timeout=_one(flags, "timeout"), start_period=_one(flags, "start-period"),
                               start_interval=_one(flags, "start-interval"), retries=_one(flags, "retries"))
    # ONBUILD
    sub = (node.sub_cmd or "").upper()
    if not sub:
        raise DockerfileError("ONBUILD requires at least one argument", line)
    if sub in ("ONBUILD", "FROM", "MAINTAINER"):
        raise DockerfileError(f"{sub} isn't allowed as an ONBUILD trigger", line)
    if sub not in KNOWN:
        raise DockerfileError(f"unknown instruction: {node.sub_cmd}", line)
    trigger = re.sub(r"^\s*onbuild\s+", "", node.original, flags=re.I)
    return ins.Onbuild(**base, trigger=trigger)


def parse_trigger(trigger: str, line: int) -> ins.Instruction:
    """An ONBUILD trigger, parsed for the child build."""
    try:
        nodes = dockerfile.parse_string(trigger + "\n")
    except dockerfile.GoParseError as e:
        raise DockerfileError(f"ONBUILD trigger {trigger!r}: {e}", line) from None
    if len(nodes) != 1:
        raise DockerfileError(f"ONBUILD trigger {trigger!r} is not one instruction", line)
    return instruction(nodes[0])


def json_words(text: str) -> list[str] | None:
    try:
        v = json.loads(text)
    except ValueError:
        return None
    return v if isinstance(v, list) and all(isinstance(x, str) for x in v) else None
