"""seccomp: ``linux.seccomp`` of config.json as a libseccomp filter.

``prepare(spec)`` checks the spec and builds the filter in the runtime's
process (so mistakes surface as a clear error before any fork);
``SeccompFilter.load()`` installs it in the calling process — call it in the
container's init, as close to ``execve`` as possible, so the filter does not
have to allow everything the runtime itself still does (runc's ordering).
``prepare`` compiles the BPF program once (cached per spec) and ``load``
hands it straight to ``seccomp(2)``: the init does no libseccomp work.

Semantics follow runc:

- an unknown syscall name is skipped (profiles list syscalls of newer
  kernels and other architectures); an unknown action, operator, arch or
  flag is an ``InvalidSpecError`` naming the field;
- a rule whose action equals the default action is dropped (libseccomp
  refuses it, and it would change nothing);
- several ``args`` on one syscall are ANDed in one rule, unless two of them
  test the same argument index: then each becomes its own rule (OR), which
  is how profiles express "flags is X or Y";
- ``errnoRet`` defaults to EPERM for ``SCMP_ACT_ERRNO`` and ``SCMP_ACT_TRACE``.

libseccomp would set ``no_new_privs`` on load by default; we switch that off
so ``process.noNewPrivileges`` alone decides it, which means the filter must
be loaded while the process still has CAP_SYS_ADMIN, or after NNP is set.

With ``SCMP_ACT_NOTIFY`` rules, ``SeccompFilter.notify_fd()`` (after
``load``) is the listener fd to send to ``listenerPath``; the listener uses
``receive_notification`` and ``respond``.

``default_profile()`` gives Docker's default policy, kept as data in
``seccomp_default.json`` (Docker's profile format: ``includes``/``excludes``
by capability, arch and minimum kernel), resolved for this host.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import functools
import json
import os
import platform
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pyseccomp

from dockyard.oci.errors import InvalidSpecError

from . import config, jsonio
from .seccomp_cache import NR_SECCOMP, load_bpf

TYPE_CHECKING = False
if TYPE_CHECKING:
    # Types only: ``create`` hands in the views of config.py, and importing
    # oci.runtime would load msgspec (resolve_profile imports it when used).
    from dockyard.oci.runtime import LinuxSeccomp, LinuxSeccompArg, LinuxSyscall

FIELD = "$.linux.seccomp"

ARCHES: dict[str, int] = {
    "SCMP_ARCH_X86": pyseccomp.Arch.X86,
    "SCMP_ARCH_X86_64": pyseccomp.Arch.X86_64,
    "SCMP_ARCH_X32": pyseccomp.Arch.X32,
    "SCMP_ARCH_ARM": pyseccomp.Arch.ARM,
    "SCMP_ARCH_AARCH64": pyseccomp.Arch.AARCH64,
    "SCMP_ARCH_MIPS": pyseccomp.Arch.MIPS,
    "SCMP_ARCH_MIPS64": pyseccomp.Arch.MIPS64,
    "SCMP_ARCH_MIPS64N32": pyseccomp.Arch.MIPS64N32,
    "SCMP_ARCH_MIPSEL": pyseccomp.Arch.MIPSEL,
    "SCMP_ARCH_MIPSEL64": pyseccomp.Arch.MIPSEL64,
    "SCMP_ARCH_MIPSEL64N32": pyseccomp.Arch.MIPSEL64N32,
    "SCMP_ARCH_PARISC": pyseccomp.Arch.PARISC,
    "SCMP_ARCH_PARISC64": pyseccomp.Arch.PARISC64,
    "SCMP_ARCH_PPC": pyseccomp.Arch.PPC,
    "SCMP_ARCH_PPC64": pyseccomp.Arch.PPC64,
    "SCMP_ARCH_PPC64LE": pyseccomp.Arch.PPC64LE,
    "SCMP_ARCH_S390": pyseccomp.Arch.S390,
    "SCMP_ARCH_S390X": pyseccomp.Arch.S390X,
    "SCMP_ARCH_RISCV64": pyseccomp.Arch.RISCV64,
}

OPS: dict[str, int] = {
    "SCMP_CMP_NE": pyseccomp.NE,
    "SCMP_CMP_LT": pyseccomp.LT,
    "SCMP_CMP_LE": pyseccomp.LE,
    "SCMP_CMP_EQ": pyseccomp.EQ,
    "SCMP_CMP_GE": pyseccomp.GE,
    "SCMP_CMP_GT": pyseccomp.GT,
    "SCMP_CMP_MASKED_EQ": pyseccomp.MASKED_EQ,
}

# Actions that carry a return value (errno, or the tracer's message number).
_WITH_RET = {"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"}
ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)

# Spec flag → libseccomp filter attribute switched on for it.
FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": pyseccomp.Attr.CTL_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": pyseccomp.Attr.CTL_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": pyseccomp.Attr.CTL_SSB,
}


def _action(name: str, ret: int | None, field: str) -> int:
    if name not in ACTIONS:
        raise InvalidSpecError(
            f"config.json: {field}: unknown seccomp action {name!r}, expected one of "
            + ", ".join(ACTIONS)
        )
    if ret is not None and name not in _WITH_RET:
        raise InvalidSpecError(
            f"config.json: {field}: errnoRet is only meaningful with SCMP_ACT_ERRNO or "
            f"SCMP_ACT_TRACE, not {name}"
        )
    value = errno.EPERM if ret is None else ret
    if not 0 <= value <= 0xFFFF:
        raise InvalidSpecError(f"config.json: {field}: errnoRet {value} is out of range 0..65535")
    actions: dict[str, int] = {
        "SCMP_ACT_KILL": pyseccomp.KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": pyseccomp.KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": pyseccomp.KILL_PROCESS,
        "SCMP_ACT_TRAP": pyseccomp.TRAP,
        "SCMP_ACT_ALLOW": pyseccomp.ALLOW,
        "SCMP_ACT_LOG": pyseccomp.LOG,
        "SCMP_ACT_NOTIFY": pyseccomp.NOTIFY,
        "SCMP_ACT_ERRNO": pyseccomp.ERRNO(value),
        "SCMP_ACT_TRACE": pyseccomp.TRACE(value),
    }
    return actions[name]


def _arg(a: LinuxSeccompArg, field: str) -> pyseccomp.Arg:
    if a.op not in OPS:
        raise InvalidSpecError(
            f"config.json: {field}.op: unknown operator {a.op!r}, expected one of " + ", ".join(OPS)
        )
    if not 0 <= a.index <= 5:
        raise InvalidSpecError(f"config.json: {field}.index: {a.index} is out of range 0..5")
    for name, v in (("value", a.value), ("valueTwo", a.value_two or 0)):
        if not 0 <= v < 1 << 64:
            raise InvalidSpecError(f"config.json: {field}.{name}: {v} is not a 64-bit unsigned")
    return pyseccomp.Arg(a.index, OPS[a.op], a.value, a.value_two or 0)


# seccomp(2) filter flags (the program is loaded through seccomp_cache.load_bpf).
FILTER_FLAG_TSYNC, FILTER_FLAG_LOG, FILTER_FLAG_SPEC_ALLOW = 1, 2, 4
_SPEC_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": FILTER_FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FILTER_FLAG_SPEC_ALLOW,
}


@dataclass
class SeccompFilter:
    """A built filter, ready for ``load()`` in the container's init.

    ``bpf`` is the program libseccomp compiled in ``prepare``: ``load`` hands
    it to ``seccomp(2)`` as is, so the container's init, on the critical
    path, does not recompile the filter (libseccomp's own load would,
    taking milliseconds for Docker's default profile).
    """

    filter: pyseccomp.SyscallFilter
    uses_notify: bool
    skipped: list[str]  # syscall names libseccomp does not know (skipped, as runc does)
    listener_path: str | None = None
    bpf: bytes = b""
    flags: int = 0
    listener_fd: int = -1

    def load(self) -> None:
        """Install the filter in the calling process (and, with TSYNC, all its threads)."""
        if platform.machine() not in NR_SECCOMP or not self.bpf:  # libseccomp's own load
            try:
                self.filter.load()
            except OSError as e:
                raise OSError(e.errno, f"seccomp: loading the filter: {e.strerror}") from None
            if self.uses_notify:
                self.listener_fd = int(pyseccomp._libseccomp.seccomp_notify_fd(self.filter._filter))
            return
        ret = load_bpf(self.bpf, self.flags, self.uses_notify)
        if self.uses_notify:
            self.listener_fd = ret

    def notify_fd(self) -> int:
        """The listener fd of a loaded filter that uses SCMP_ACT_NOTIFY (to pass on)."""
        if self.listener_fd < 0:
            raise OSError(errno.EINVAL, "seccomp: no listener fd (not loaded, or no NOTIFY rule)")
        return self.listener_fd

    def export_pfc(self, file: Any) -> None:
        """Write the filter in libseccomp's readable pseudo-code (for debugging)."""
        self.filter.export_pfc(file)


def _export_bpf(flt: pyseccomp.SyscallFilter) -> bytes:
    fd = os.memfd_create("dockyard-seccomp", os.MFD_CLOEXEC)
    try:
        with os.fdopen(fd, "w+b", closefd=False) as f:
            flt.export_bpf(f)
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


# Built filters by their spec: the engine gives most containers the same
# profile, and building Docker's default costs milliseconds each time.
_CACHE: dict[bytes, SeccompFilter] = {}
_CACHE_MAX = 32


def prepare(spec: LinuxSeccomp) -> SeccompFilter:
    """Check ``linux.seccomp`` and build its filter; raise ``InvalidSpecError`` on bad input.

    Each call returns its own ``SeccompFilter`` (the listener fd is per load),
    sharing the compiled program with earlier calls for an equal spec.
    """
    # Views (create) and structs (exec) alike: the spec's JSON is the key.
    key = jsonio.dumps(config.to_builtins(spec)).encode()
    hit = _CACHE.get(key)
    if hit is None:
        hit = _build(spec)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = hit
    return dataclasses.replace(hit, skipped=list(hit.skipped), listener_fd=-1)


def _build(spec: LinuxSeccomp) -> SeccompFilter:
    default = _action(spec.default_action, spec.default_errno_ret, f"{FIELD}.defaultAction")
    if spec.default_action == "SCMP_ACT_NOTIFY":
        raise InvalidSpecError(
            f"config.json: {FIELD}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
        )
    flt = pyseccomp.SyscallFilter(default)
    # NNP is the spec's business (process.noNewPrivileges), not libseccomp's.
    flt.set_attr(pyseccomp.Attr.CTL_NNP, 0)
    for i, arch in enumerate(spec.architectures or []):
        if arch not in ARCHES:
            raise InvalidSpecError(
                f"config.json: {FIELD}.architectures[{i}]: unknown architecture {arch!r}, "
                "expected one of " + ", ".join(ARCHES)
            )
        try:
            flt.add_arch(ARCHES[arch])
        except OSError as e:
            if e.errno != errno.EEXIST:  # the native arch is always there
                raise InvalidSpecError(
                    f"config.json: {FIELD}.architectures[{i}]: {arch}: {e.strerror}"
                ) from None
    for i, flag in enumerate(spec.flags or []):
        if flag not in FLAGS:
            raise InvalidSpecError(
                f"config.json: {FIELD}.flags[{i}]: unsupported flag {flag!r}, expected one of "
                + ", ".join(FLAGS)
            )
        flt.set_attr(FLAGS[flag], 1)
    uses_notify = False
    skipped: list[str] = []
    for i, call in enumerate(spec.syscalls or []):
        field = f"{FIELD}.syscalls[{i}]"
        action = _action(call.action, call.errno_ret, f"{field}.action")
        args = [_arg(a, f"{field}.args[{j}]") for j, a in enumerate(call.args or [])]
        if action == default:
            continue
        uses_notify |= call.action == "SCMP_ACT_NOTIFY"
        if not call.names:
            raise InvalidSpecError(f"config.json: {field}.names: empty list of syscalls")
        for name in call.names:
            _add(flt, name, action, args, call, skipped, f"{field}.names")
    if uses_notify and not spec.listener_path:
        raise InvalidSpecError(
            f"config.json: {FIELD}.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath"
        )
    flags = 0
    for flag in spec.flags or []:
        flags |= _SPEC_FLAGS[flag]
    return SeccompFilter(
        flt, uses_notify, skipped, spec.listener_path, bpf=_export_bpf(flt), flags=flags
    )


def _add(
    flt: pyseccomp.SyscallFilter,
    name: str,
    action: int,
    args: list[pyseccomp.Arg],
    call: LinuxSyscall,
    skipped: list[str],
    field: str,
) -> None:
    nr = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
    if nr == -1:  # __NR_SCMP_ERROR: libseccomp knows no such syscall
        skipped.append(name)
        return
    indexes = [a.index for a in call.args or []]
    try:
        if len(set(indexes)) < len(indexes):
            for a in args:  # same argument tested twice: OR of one-condition rules
                flt.add_rule(action, nr, a)
        else:
            flt.add_rule(action, nr, *args)
    except OSError as e:
        raise InvalidSpecError(
            f"config.json: {field}: libseccomp refused the rule for {name!r}: {e.strerror}"
        ) from None


# --- SCMP_ACT_NOTIFY: the listener's side --------------------------------------------

SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


@dataclass
class Notification:
    """A syscall held by SCMP_ACT_NOTIFY, waiting for ``respond``."""

    id: int
    pid: int
    syscall: str
    args: list[int]


def receive_notification(fd: int) -> Notification:
    """Block until a process hits a NOTIFY rule of the filter behind listener ``fd``."""
    req = pyseccomp._Notif()  # zeroed, as the kernel insists
    ret = pyseccomp._libseccomp.seccomp_notify_receive(fd, ctypes.byref(req))
    if ret < 0:
        raise OSError(-ret, f"seccomp: receiving a notification: {os.strerror(-ret)}")
    try:
        name = pyseccomp.resolve_syscall(req.data.arch, req.data.nr).decode()
    except ValueError:
        name = str(req.data.nr)
    return Notification(int(req.id), int(req.pid), name, [int(a) for a in req.data.args])


def respond(fd: int, notif_id: int, *, error: int = 0, val: int = 0, cont: bool = False) -> None:
    """Answer a notification: fail the syscall with ``error`` (an errno), return
    ``val``, or let the kernel run it (``cont``)."""
    resp = pyseccomp._NotifResp()
    resp.id = notif_id
    resp.val = val
    resp.error = -error if error else 0
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE if cont else 0
    ret = pyseccomp._libseccomp.seccomp_notify_respond(fd, ctypes.byref(resp))
    if ret < 0:
        raise OSError(-ret, f"seccomp: responding to a notification: {os.strerror(-ret)}")


# --- Docker's default profile --------------------------------------------------------

# Docker's default capability set: what a container gets without --cap-add.
DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip

_MACHINE_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64",
    "aarch64": "SCMP_ARCH_AARCH64",
    "armv7l": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "i686": "SCMP_ARCH_X86",
}


@functools.cache
def _profile_data() -> dict[str, Any]:
    text = resources.files("dockyard.runtime").joinpath("seccomp_default.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def _kernel_at_least(version: str, kernel: str) -> bool:
    def nums(v: str) -> tuple[int, ...]:
        out = []
        for p in v.split("-", 1)[0].split(".")[:2]:
            digits = "".join(ch for ch in p if ch.isdigit())
            out.append(int(digits or 0))
        return tuple(out)

    return nums(kernel) >= nums(version)


def resolve_profile(
    profile: dict[str, Any],
    capabilities: list[str] | tuple[str, ...] | None = None,
    arch: str | None = None,
    kernel: str | None = None,
) -> LinuxSeccomp:
    """A Docker-format profile (with includes/excludes) as the runtime spec's ``LinuxSeccomp``.

    ``capabilities`` are the container's bounding set (Docker's defaults when
    None), ``arch`` a ``SCMP_ARCH_*`` (this machine's when None), ``kernel``
    a release like ``6.1.0`` (this one's when None).
    """
    from dockyard.oci.runtime import LinuxSeccomp, LinuxSeccompArg, LinuxSyscall

    caps = set(DEFAULT_CAPS if capabilities is None else capabilities)
    arch = arch or _MACHINE_ARCH.get(platform.machine(), "SCMP_ARCH_X86_64")
    kernel = kernel or platform.release()
    arches: list[str] = []
    for entry in profile.get("archMap") or []:
        if entry["architecture"] == arch:
            arches = [arch, *entry.get("subArchitectures", [])]
    syscalls: list[LinuxSyscall] = []
    for rule in profile.get("syscalls") or []:
        inc = rule.get("includes") or {}
        exc = rule.get("excludes") or {}
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], kernel):
            continue
        if exc.get("arches") and arch in exc["arches"]:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        args = [
            LinuxSeccompArg(
                index=a["index"], value=a["value"], op=a["op"], value_two=a.get("valueTwo") or None
            )
            for a in rule.get("args") or []
        ]
        syscalls.append(
            LinuxSyscall(
                names=list(rule["names"]),
                action=rule["action"],
                errno_ret=rule.get("errnoRet"),
                args=args or None,
            )
        )
    return LinuxSeccomp(
        default_action=profile["defaultAction"],
        default_errno_ret=profile.get("defaultErrnoRet"),
        architectures=arches or None,
        syscalls=syscalls,
    )


def default_profile(
    capabilities: list[str] | tuple[str, ...] | None = None, arch: str | None = None
) -> LinuxSeccomp:
    """Docker's default seccomp policy for a container with ``capabilities``.

    Blocks (EPERM) what Docker's blocks: keyctl, add_key, request_key, kexec_*,
    bpf, perf_event_open, mount/umount/unshare/setns and namespace-creating
    clone flags without CAP_SYS_ADMIN, ptrace on kernels before 4.8, module
    loading, reboot, clock setting, swapon, acct, userfaultfd, …
    """
    return resolve_profile(_profile_data(), capabilities, arch)
