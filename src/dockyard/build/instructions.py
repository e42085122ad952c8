"""Typed Dockerfile instructions, one dataclass each (BuildKit's ``instructions`` package).

Values are kept as written (variables unexpanded): expansion needs the
stage's ARG/ENV scope at that point, which the solver knows. Every
instruction carries its ``line`` and ``original`` text (for errors,
history and the cache key).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str
    expand: bool  # False when the name was quoted: <<"EOF"
    chomp: bool = False  # <<-EOF: leading tabs removed


@dataclass(frozen=True)
class Instruction:
    line: int
    original: str

    @property
    def keyword(self) -> str:
        return self.original.split(None, 1)[0].upper()


@dataclass(frozen=True)
class From(Instruction):
    base: str
    name: str = ""
    platform: str = ""


@dataclass(frozen=True)
class Run(Instruction):
    command: list[str]
    json: bool
    mounts: list[str] = field(default_factory=list)
    network: str = ""
    security: str = ""
    heredocs: list[Heredoc] = field(default_factory=list)


@dataclass(frozen=True)
class Copy(Instruction):
    """COPY and ADD (``add``); sources may name heredocs (``<<EOF``)."""

    sources: list[str]
    dest: str
    add: bool = False
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    exclude: list[str] = field(default_factory=list)
    checksum: str = ""
    keep_git_dir: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)


@dataclass(frozen=True)
class KeyValues(Instruction):
    """ENV and LABEL: ordered (key, value) pairs, both unexpanded."""

    pairs: list[tuple[str, str]]
    label: bool = False


@dataclass(frozen=True)
class Arg(Instruction):
    args: list[tuple[str, str | None]]  # (name, default or None)


@dataclass(frozen=True)
class Command(Instruction):
    """CMD, ENTRYPOINT and SHELL (``kind``)."""

    kind: str
    command: list[str]
    json: bool


@dataclass(frozen=True)
class Words(Instruction):
    """EXPOSE and VOLUME: a list of words (VOLUME may be JSON)."""

    kind: str
    words: list[str]
    json: bool = False


@dataclass(frozen=True)
class Single(Instruction):
    """USER, WORKDIR, STOPSIGNAL, MAINTAINER: one value."""

    kind: str
    value: str


@dataclass(frozen=True)
class Healthcheck(Instruction):
    test: list[str]  # ["NONE"] or ["CMD", …] or ["CMD-SHELL", cmd]
    interval: str = ""
    timeout: str = ""
    start_period: str = ""
    start_interval: str = ""
    retries: str = ""


@dataclass(frozen=True)
class Onbuild(Instruction):
    trigger: str  # the instruction text, as the child build will parse it
