"""The instructions that only change the image config: ENV, LABEL, CMD, ENTRYPOINT,
SHELL, EXPOSE, VOLUME, USER, STOPSIGNAL, HEALTHCHECK, MAINTAINER, ONBUILD.

Each returns the history line BuildKit writes for it (an ``empty_layer``
entry): ``ENV A=b``, ``CMD ["sh" "-c" "x"]`` (Go's ``%q`` of a string
slice), ``VOLUME [/data]``, ``HEALTHCHECK &{["CMD-SHELL" "ls"] "5s" …}``.
WORKDIR, ARG, RUN, COPY and ADD are the solver's.
"""

from __future__ import annotations

import re

from dockyard.oci.image import Empty, HealthConfig

from . import instructions as ins
from .errors import BuildError, DockerfileError
from .lex import expand, split
from .state import State

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def go_quote_list(words: list[str]) -> str:
    """Go's ``fmt.Sprintf("%q", []string{…})``."""
    return "[" + " ".join(_go_quote(w) for w in words) + "]"


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_duration(value: str, what: str, line: int) -> int:
    """A Go duration (``1m30s``) in nanoseconds."""
    if value in ("", "0"):
        return 0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(value):
        raise DockerfileError(f"{what}: time: invalid duration {value!r}", line)
    return int(total)


def _go_duration(ns: int) -> str:
    if ns == 0:
        return "0s"
    s, rem = divmod(ns, 10**9)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    frac = f"{rem / 10**9:.9f}"[1:].rstrip("0").rstrip(".") if rem else ""
    out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}{frac}s"
    return out


def apply(inst: ins.Instruction, st: State, escape: str) -> str:
    """Apply a metadata instruction to ``st``; returns its history ``created_by``."""
    cfg = st.config
    scope = st.scope()
    if isinstance(inst, ins.KeyValues):
        pairs = [(expand(k, scope, escape=escape), expand(v, scope, escape=escape)) for k, v in inst.pairs]
        if inst.label:
            labels = dict(cfg.labels or {})
            labels.update(pairs)
            cfg.labels = labels
            return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
        for k, v in pairs:
            if not k:
                raise DockerfileError("ENV names can not be blank", inst.line)
            st.env.pop(k, None)
            st.env[k] = v
        cfg.env = [f"{k}={v}" for k, v in st.env.items()]
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if isinstance(inst, ins.Command):
        words = list(inst.command) if inst.json else [*st.shell, " ".join(inst.command)]
        if inst.kind == "CMD":
            cfg.cmd = words
            st.cmd_set = True
            return f"CMD {go_quote_list(words)}"
        if inst.kind == "ENTRYPOINT":
            cfg.entrypoint = words
            if not st.cmd_set:
                cfg.cmd = None  # a base image's CMD does not survive a new ENTRYPOINT
            return f"ENTRYPOINT {go_quote_list(words)}"
        cfg.shell = list(inst.command)
        return f"SHELL [{' '.join(inst.command)}]"
    if isinstance(inst, ins.Words):
        if inst.kind == "EXPOSE":
            ports = dict(cfg.exposed_ports or {})
            written = []
            for w in split(" ".join(inst.words), scope, escape=escape):
                port, _, proto = w.partition("/")
                proto = (proto or "tcp").lower()
                if proto not in ("tcp", "udp", "sctp"):
                    raise DockerfileError(f"EXPOSE: invalid proto: {proto}", inst.line)
                lo, dash, hi = port.partition("-")
                if not lo.isdigit() or (dash and not hi.isdigit()):
                    raise DockerfileError(f"EXPOSE: invalid containerPort: {port}", inst.line)
                for p in range(int(lo), int(hi if dash else lo) + 1):
                    ports[f"{p}/{proto}"] = Empty()
                written.append(w)
            cfg.exposed_ports = ports
            return "EXPOSE " + " ".join(written)
        vols = dict(cfg.volumes or {})
        words = inst.words if inst.json else split(" ".join(inst.words), scope, escape=escape)
        words = [expand(w, scope, escape=escape) if inst.json else w for w in words]
        for v in words:
            if not v.strip():
                raise DockerfileError("VOLUME specified can not be an empty string", inst.line)
            vols[v] = Empty()
        cfg.volumes = vols
        return f"VOLUME [{' '.join(words)}]"
    if isinstance(inst, ins.Single):
        value = expand(inst.value, scope, escape=escape)
        if inst.kind == "USER":
            cfg.user = value
        elif inst.kind == "STOPSIGNAL":
            if not re.fullmatch(r"(SIG)?[A-Z0-9+-]+|\d+", value):
                raise DockerfileError(f"STOPSIGNAL: invalid signal {value!r}", inst.line)
            cfg.stop_signal = value
        elif inst.kind == "MAINTAINER":
            st.author = value
        return f"{inst.kind} {value}"
    if isinstance(inst, ins.Healthcheck):
        if inst.test == ["NONE"]:
            cfg.healthcheck = HealthConfig(test=["NONE"])
            return 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'
        hc = HealthConfig(test=list(inst.test))
        times = []
        for attr, raw in (("interval", inst.interval), ("timeout", inst.timeout),
                          ("start_period", inst.start_period), ("start_interval", inst.start_interval)):
            ns = parse_duration(raw, f"HEALTHCHECK --{attr.replace('_', '-')}", inst.line)
            if ns and ns < 10**6:
                raise DockerfileError(f"HEALTHCHECK --{attr.replace('_', '-')} cannot be less than 1ms",
                                      inst.line)
            if ns:
                setattr(hc, attr, ns)
            times.append(_go_duration(ns))
        retries = 0
        if inst.retries:
            if not inst.retries.isdigit():
                raise DockerfileError(f"HEALTHCHECK --retries: invalid number {inst.retries!r}", inst.line)
            retries = int(inst.retries)
            hc.retries = retries
        cfg.healthcheck = hc
        return (f"HEALTHCHECK &{{{go_quote_list(hc.test or [])} "
                + " ".join(f'"{t}"' for t in times) + f" '\\x{retries:02x}'}}")
    if isinstance(inst, ins.Onbuild):
        cfg.on_build = [*(cfg.on_build or []), inst.trigger]
        return f"ONBUILD {inst.trigger}"
    raise BuildError(f"line {inst.line}: {inst.keyword} is not a metadata instruction")
