"""The container process: what ``[2:INIT]`` does between the rootfs and execve.

Order, and why:

- rlimits and oomScoreAdj first, while we are still root with every
  capability (raising a hard limit needs CAP_SYS_RESOURCE; when the host
  denies it, the error says so instead of crashing).
- the bounding set is dropped (needs CAP_SETPCAP, which we still have).
- seccomp is loaded here when noNewPrivileges is off: loading a filter then
  needs CAP_SYS_ADMIN, which the user may be about to lose.
- groups, gid, uid, with PR_SET_KEEPCAPS so permitted caps survive setuid;
  then capset(effective, permitted, inheritable) and the ambient raises.
- noNewPrivileges, then seccomp when noNewPrivileges is on (as late as
  possible: the filter then also covers nothing of ours but execve).
- cwd is entered after setuid (permission checks as the user) and checked
  to be inside the root (CVE-2024-21626: a leaked fd would give a cwd
  outside it); every fd but stdio and the preserved ones is closed; execve.
"""

from __future__ import annotations

import errno
import os
import resource

from dockyard.linux import syscalls as sc

from . import caps
from .errors import InvalidConfig, ProcessSetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from dockyard.oci.runtime import POSIXRlimit, Process

    class SeccompFilter(Protocol):
        def load(self) -> None: ...

PR_SET_KEEPCAPS = 8

RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

INFINITY = 2**64 - 1


def check(process: Process) -> None:
    """Reject, at create time, what the init could only fail on later."""
    for i, rl in enumerate(process.rlimits or ()):
        if rl.type not in RLIMITS:
            raise InvalidConfig(f"config.json: $.process.rlimits[{i}].type: unknown rlimit {rl.type!r}")
        if rl.soft > rl.hard:
            raise InvalidConfig(
                f"config.json: $.process.rlimits[{i}]: soft limit {rl.soft} is above hard limit {rl.hard}"
            )
    c = process.capabilities
    if c:
        for field in ("bounding", "effective", "inheritable", "permitted", "ambient"):
            caps.mask(getattr(c, field), f"capabilities.{field}")
    if not process.args:
        raise InvalidConfig("config.json: $.process.args: must not be empty")
    if not process.cwd.startswith("/"):
        raise InvalidConfig(f"config.json: $.process.cwd: {process.cwd!r} is not an absolute path")


def _limit(v: int) -> int:
    return resource.RLIM_INFINITY if v >= INFINITY or v < 0 else v


def set_rlimits(rlimits: list[POSIXRlimit] | None) -> None:
    for rl in rlimits or ():
        num = RLIMITS[rl.type]
        soft, hard = _limit(rl.soft), _limit(rl.hard)
        try:
            resource.setrlimit(num, (soft, hard))
        except (ValueError, OSError) as e:
            cur = resource.getrlimit(num)[1]
            why = ("the host does not let this runtime raise hard limits (no CAP_SYS_RESOURCE)"
                   if hard > cur or hard == resource.RLIM_INFINITY and cur != hard else str(e))
            raise ProcessSetupError(
                f"setrlimit {rl.type} soft={rl.soft} hard={rl.hard}: cannot raise the hard limit "
                f"above {cur}: {why}"
            ) from None


def set_oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as e:
        raise ProcessSetupError(f"oomScoreAdj {value}: {e.strerror}") from None


def drop_bounding(process: Process) -> None:
    c = process.capabilities
    if c is None or c.bounding is None:
        return
    keep = caps.mask(c.bounding)
    for cap in range(caps.last_cap() + 1):
        if not keep & (1 << cap):
            sc.prctl(sc.PR_CAPBSET_DROP, cap)


def set_user(process: Process) -> None:
    u = process.user
    sc.prctl(PR_SET_KEEPCAPS, 1)
    try:
        os.setgroups(u.additional_gids or [])
    except PermissionError:
        # setgroups is denied in a user namespace with setgroups=deny.
        if u.additional_gids:
            raise
    os.setresgid(u.gid, u.gid, u.gid)
    os.setresuid(u.uid, u.uid, u.uid)
    sc.prctl(PR_SET_KEEPCAPS, 0)
    if u.umask is not None:
        os.umask(u.umask)
    else:
        os.umask(0o022)


def set_caps(process: Process) -> None:
    c = process.capabilities
    if c is None:
        return
    eff, perm, inh = caps.mask(c.effective), caps.mask(c.permitted), caps.mask(c.inheritable)
    sc.capset(eff, perm, inh)
    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    for name in c.ambient or ():
        num = caps.CAPABILITIES[name.upper()]
        try:
            sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, num)
        except OSError:
            # Like runc: an ambient cap not also permitted and inheritable is
            # silently skipped (the kernel refuses it with EPERM).
            pass


def lookup(args0: str, env: list[str]) -> str:
    """Resolve argv[0] in the container (after pivot_root) with its PATH."""
    if "/" in args0:
        if not os.path.exists(args0):
            raise ProcessSetupError(f'exec: "{args0}": stat {args0}: no such file or directory')
        return args0
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for kv in env:
        if kv.startswith("PATH="):
            path = kv[5:]
    for d in path.split(":"):
        candidate = os.path.join(d or ".", args0)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ProcessSetupError(f'exec: "{args0}": executable file not found in $PATH')


def enter_cwd(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except OSError as e:
        raise ProcessSetupError(f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}") from None
    try:
        real = os.getcwd()
    except OSError:
        real = ""
    # getcwd reports "(unreachable)..." or fails for a directory outside our
    # root: exactly what a leaked host fd would give (CVE-2024-21626).
    if not real.startswith("/"):
        raise ProcessSetupError(f"cwd {cwd!r} is outside the container root")


def close_fds(keep: int = 3, but: int = -1) -> None:
    """Close everything from ``keep`` up (stdio and preserved fds stay), except ``but``.

    ``but`` is the sync socket in ``exec`` mode: it is close-on-exec, so the
    runtime sees EOF when execve succeeds and an error message when it fails.
    """
    if keep <= but:
        os.closerange(keep, but)
        os.closerange(but + 1, 2**31 - 1)
    else:
        os.closerange(keep, 2**31 - 1)


def finish(
    process: Process, seccomp: SeccompFilter | None, path: str, preserve_fds: int, sync_fd: int = -1
) -> None:
    """From the bounding set to execve; never returns on success."""
    env = list(process.env or [])
    drop_bounding(process)
    if seccomp is not None and not process.no_new_privileges:
        seccomp.load()
    set_user(process)
    set_caps(process)
    if process.no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        if seccomp is not None:
            seccomp.load()
    enter_cwd(process.cwd)
    close_fds(3 + preserve_fds, sync_fd)
    try:
        os.execve(path, list(process.args or []), dict(kv.split("=", 1) for kv in env if "=" in kv))
    except OSError as e:
        raise ProcessSetupError(f"exec {path!r}: {e.strerror or errno.errorcode.get(e.errno or 0)}") from None
