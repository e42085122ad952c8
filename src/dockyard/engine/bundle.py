"""Container record + image config → OCI runtime config.json (runc's ``specconv`` role).

Docker's defaults, field by field: its 14 default capabilities, masked and
read-only /proc paths, ``/dev/shm`` of 64 MiB, ``/etc/hostname``,
``/etc/hosts`` and ``/etc/resolv.conf`` bind-mounted from the container's
directory, the default seccomp profile (``runtime.seccomp``), a new
network namespace unless ``--network host`` (bridges are the network
issue's), and the namespace sharing of ``--pid/--ipc/--uts/--network``
with ``host`` or ``container:ID``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import msgspec

from .cbuild import is_static
from .errors import InvalidParameter
from .model import Container

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def all_caps() -> list[str]:
    """Every capability the daemon itself may hand out (``--privileged``): the
    kernel's, limited by our own bounding set (a daemon without, say,
    CAP_SYS_RESOURCE cannot give it, and capset would fail)."""
    from dockyard.runtime import caps

    bits = (1 << (caps.last_cap() + 1)) - 1
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    bits &= int(line.split()[1], 16)
    except OSError:
        pass
    return caps.names(bits)


def _cap(name: str) -> str:
    n = name.upper()
    return n if n.startswith("CAP_") else "CAP_" + n


def capabilities(c: Container) -> list[str]:
    hc = c.HostConfig
    if hc.Privileged:
        return all_caps()
    adds = [_cap(x) for x in hc.CapAdd or []]
    drops = [_cap(x) for x in hc.CapDrop or []]
    from dockyard.runtime import caps as rcaps

    known = set(rcaps.names((1 << (rcaps.last_cap() + 1)) - 1))
    usable = set(all_caps())
    for name in adds + drops:
        if name != "CAP_ALL" and name not in known:
            raise InvalidParameter(f"unknown capability: {name!r}")
    for name in adds:
        if name != "CAP_ALL" and name not in usable:
            raise InvalidParameter(f"capability {name} is not in the daemon's own bounding "
                                   "set, so no container can be given it")
    base = all_caps() if "CAP_ALL" in adds else list(DEFAULT_CAPS)
    base += [a for a in adds if a != "CAP_ALL" and a not in base]
    if "CAP_ALL" in drops:
        return [a for a in adds if a != "CAP_ALL"]
    return [x for x in base if x not in drops]


def merge_env(image_env: list[str], env: list[str], tty: bool, hostname: str) -> list[str]:
    """Docker's order: PATH and HOSTNAME, TERM for a tty, the image's env, then -e."""
    out: dict[str, str] = {"PATH": DEFAULT_PATH.split("=", 1)[1], "HOSTNAME": hostname}
    if tty:
        out["TERM"] = "xterm"
    for kv in [*image_env, *env]:
        k, sep, v = kv.partition("=")
        if not k:
            raise InvalidParameter(f"invalid environment variable: {kv!r}")
        if sep:
            out[k] = v
        # "-e NAME" without a value: the client fills it in; drop it here.
    return [f"{k}={v}" for k, v in out.items()]


def resolve_user(rootfs: str, user: str) -> tuple[int, int, list[int]]:
    """``user[:group]`` by name or number, looked up in the container's own
    /etc/passwd and /etc/group (never following a link out of the rootfs)."""
    name, _, group = user.partition(":")
    passwd = _read_db(rootfs, "etc/passwd")
    groups = _read_db(rootfs, "etc/group")
    uid, gid = 0, 0
    if name.isdigit():
        uid = int(name)
        gid = next((int(r[3]) for r in passwd if len(r) > 3 and r[2] == name), 0)
    elif name:
        row = next((r for r in passwd if r[0] == name and len(r) > 3), None)
        if row is None:
            raise InvalidParameter(f"unable to find user {name}: no matching entries in passwd file")
        uid, gid = int(row[2]), int(row[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            grow = next((r for r in groups if r[0] == group and len(r) > 2), None)
            if grow is None:
                raise InvalidParameter(
                    f"unable to find group {group}: no matching entries in group file")
            gid = int(grow[2])
    uname = next((r[0] for r in passwd if len(r) > 2 and r[2] == str(uid)), name)
    extra = [int(r[2]) for r in groups
             if len(r) > 3 and uname and uname in r[3].split(",") and int(r[2]) != gid]
    return uid, gid, extra


def _read_db(rootfs: str, rel: str) -> list[list[str]]:
    path = os.path.join(rootfs, rel)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return []  # missing, or a symlink we refuse to follow out of the rootfs
    with os.fdopen(fd, "r", errors="replace") as f:
        return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]


def namespaces(c: Container, pid_of: Callable[[str], int]) -> list[dict[str, str]]:
    """The namespace list for ``--pid``, ``--ipc``, ``--uts``, ``--network``."""
    hc = c.HostConfig
    out: list[dict[str, str]] = [{"type": "mount"}]
    for kind, mode in (("pid", hc.PidMode), ("ipc", hc.IpcMode), ("uts", hc.UTSMode),
                       ("network", hc.NetworkMode), ("cgroup", hc.CgroupnsMode)):
        if kind == "cgroup" and mode != "private":
            continue  # hybrid hosts: Docker's default is the host's cgroup namespace
        if mode == "host":
            continue
        if mode.startswith("container:"):
            target = mode.split(":", 1)[1]
            ns = {"network": "net"}.get(kind, kind)
            out.append({"type": kind, "path": f"/proc/{pid_of(target)}/ns/{ns}"})
        elif mode in ("", "private", "shareable", "none", "default", "bridge") or kind == "network":
            out.append({"type": kind})
        else:
            raise InvalidParameter(f"invalid {kind} mode: {mode!r}")
    return out


def build(
    c: Container,
    image_env: list[str],
    *,
    rootfs: str,
    files_dir: str,
    pid_of: Callable[[str], int],
    seccomp: Callable[[list[str]], Any] | None = None,
    init_cache: str = "",
) -> dict[str, Any]:
    """The config.json for ``c``; ``rootfs`` is already mounted."""
    from dockyard.runtime.spec import default_spec_dict

    cfg, hc = c.Config, c.HostConfig
    args = [c.Path, *c.Args]
    spec = default_spec_dict(args, terminal=cfg.Tty, rootfs=rootfs)
    proc = spec["process"]
    hostname = cfg.Hostname or c.Id[:12]
    proc["env"] = merge_env(image_env, cfg.Env or [], cfg.Tty, hostname)
    proc["cwd"] = cfg.WorkingDir or "/"
    if not proc["cwd"].startswith("/"):
        raise InvalidParameter(f"the working directory {cfg.WorkingDir!r} is invalid: "
                               "it needs to be an absolute path")
    uid, gid, extra = resolve_user(rootfs, cfg.User) if cfg.User else (0, 0, [])
    for g in hc.GroupAdd or []:
        if not g.isdigit():
            g = str(resolve_user(rootfs, f"0:{g}")[1])
        extra.append(int(g))
    proc["user"] = {"uid": uid, "gid": gid, **({"additionalGids": extra} if extra else {})}
    caps = capabilities(c)
    proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    proc.pop("rlimits", None)
    if hc.Ulimits:
        proc["rlimits"] = [{"type": "RLIMIT_" + u.Name.upper(), "soft": u.Soft, "hard": u.Hard}
                           for u in hc.Ulimits]
    sec = hc.SecurityOpt or []
    proc["noNewPrivileges"] = any(s in ("no-new-privileges", "no-new-privileges:true",
                                        "no-new-privileges=true") for s in sec)
    if hc.OomScoreAdj:
        proc["oomScoreAdj"] = hc.OomScoreAdj
    spec["root"] = {"path": rootfs, "readonly": hc.ReadonlyRootfs}
    spec["hostname"] = hostname
    if cfg.Domainname:
        spec["domainname"] = cfg.Domainname
    shm = hc.ShmSize or 64 * 1024 * 1024
    mounts = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"]
    mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                   "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm}"]})
    for name in ("hostname", "hosts", "resolv.conf"):
        mounts.append({"destination": f"/etc/{name}", "type": "bind",
                       "source": os.path.join(files_dir, name), "options": ["rbind", "rprivate"]})
    if hc.Init:
        binary, prefix = init_command(init_cache)
        proc["args"] = args = [*prefix, *args]
        mounts.append({"destination": prefix[0], "type": "bind", "source": binary,
                       "options": ["rbind", "ro", "nosuid", "nodev", "rprivate"]})
    for dest, opts in (hc.Tmpfs or {}).items():
        o = ["nosuid", "nodev", "noexec"] + [x for x in opts.split(",") if x]
        mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": o})
    spec["mounts"] = mounts
    linux = spec["linux"]
    linux["namespaces"] = namespaces(c, pid_of)
    linux["maskedPaths"] = [] if hc.Privileged else list(MASKED_PATHS)
    linux["readonlyPaths"] = [] if hc.Privileged else list(READONLY_PATHS)
    linux["cgroupsPath"] = f"/dockyard/{c.Id}"
    if hc.Sysctls:
        linux["sysctl"] = dict(hc.Sysctls)
    res: dict[str, Any] = {"devices": [{"allow": bool(hc.Privileged), "access": "rwm"}]}
    if hc.Memory:
        res["memory"] = {"limit": hc.Memory}
        if hc.MemorySwap:
            res["memory"]["swap"] = hc.MemorySwap
    cpu: dict[str, Any] = {}
    if hc.CpuShares:
        cpu["shares"] = hc.CpuShares
    if hc.NanoCpus:
        cpu["period"] = 100000
        cpu["quota"] = hc.NanoCpus * 100000 // 1_000_000_000
    elif hc.CpuQuota:
        cpu["quota"] = hc.CpuQuota
        cpu["period"] = hc.CpuPeriod or 100000
    if hc.CpusetCpus:
        cpu["cpus"] = hc.CpusetCpus
    if cpu:
        res["cpu"] = cpu
    if hc.PidsLimit and hc.PidsLimit > 0:
        res["pids"] = {"limit": hc.PidsLimit}
    linux["resources"] = res
    unconfined = hc.Privileged or any(s in ("seccomp=unconfined", "seccomp:unconfined")
                                      for s in sec)
    if seccomp is not None and not unconfined:
        linux["seccomp"] = msgspec.to_builtins(seccomp(caps))
    return spec


def cannot_invoke(rootfs: str, path: str, mounts: list[dict[str, Any]]) -> str:
    """runc's check before the command runs, for Docker's exit 126: a command
    given by path that is a directory or has no execute bit cannot be
    invoked ("permission denied"). Resolved inside ``rootfs`` (links never
    leave it); a path under another mount (a volume, a tmpfs) is left to
    the runtime, which only sees it from inside."""
    import stat

    from dockyard.runtime.securejoin import secure_join

    if not path.startswith("/"):
        return ""  # PATH lookups only accept executables: "not found" (127) otherwise
    full = os.path.normpath(path)
    host = ""
    for m in mounts:
        dest = m.get("destination", "")
        if full == dest and m.get("type") == "bind":
            host = m.get("source", "")  # /etc/hosts and the like: the host file is it
        elif dest not in ("", "/") and (full == dest or full.startswith(dest.rstrip("/") + "/")):
            return ""
    try:
        st = os.stat(host or secure_join(rootfs, full))
    except OSError:
        return ""  # missing: the runtime says "no such file or directory" (127)
    if stat.S_ISDIR(st.st_mode):
        return f'exec: "{path}": is a directory: permission denied'
    if not st.st_mode & 0o111:
        return f'exec: "{path}": permission denied'
    return ""


def write_files(files_dir: str, hostname: str, domainname: str, *,
                extra_hosts: list[str] | None = None, dns: list[str] | None = None,
                dns_search: list[str] | None = None, dns_options: list[str] | None = None,
                host_gateway: str = "") -> None:
    """/etc/hostname, /etc/hosts and /etc/resolv.conf for the container.

    ``--add-host``, ``--dns``, ``--dns-search`` and ``--dns-option`` apply
    here whatever the network mode (Docker writes them for ``--network
    none`` too); a container on a network gets both files rewritten at
    start by the network service, with its addresses and our DNS server.
    """
    from dockyard.linux import atomic
    from dockyard.network import NetworkError
    from dockyard.network.files import render_hosts, render_resolv_conf

    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    try:
        hosts = render_hosts(hostname, [], extra_hosts or [], host_gateway)
        resolv = None
        if dns or dns_search or dns_options:
            resolv = render_resolv_conf(dns or _host_nameservers(), dns_search or [],
                                        dns_options or []).encode()
    except NetworkError as ex:
        raise InvalidParameter(str(ex)) from None
    hosts += f"127.0.1.1\t{fqdn} {hostname}\n"
    if resolv is None:
        try:
            with open("/etc/resolv.conf", "rb") as f:
                resolv = f.read()
        except OSError:
            resolv = b""
    os.makedirs(files_dir, exist_ok=True)
    atomic.write_bytes(os.path.join(files_dir, "hostname"), f"{hostname}\n".encode(), sync=False)
    atomic.write_bytes(os.path.join(files_dir, "hosts"), hosts.encode(), sync=False)
    atomic.write_bytes(os.path.join(files_dir, "resolv.conf"), resolv, sync=False)


def _host_nameservers() -> list[str]:
    from dockyard.network.files import default_bridge_resolvers

    return default_bridge_resolvers([])


# --init: a reaper as PID 1 that forwards signals and exits with the
# command's status (tini's role). Ours is ``init/docker-init.c``, built static
# with the host's gcc on first use and kept under the daemon's root by the
# source's hash (Debian's gcc and libc6-dev are in scripts/install-deps.sh).
# Without a compiler, the host's busybox-static (already a dependency) runs
# a short ash script instead: ash's `wait` reaps every child, orphans
# included, and its traps forward signals; but POSIX sh starts a background
# command with SIGINT and SIGQUIT ignored, so ^C cannot reach it: hence C
# first. busybox picks its applet from argv[0]'s basename, and a name
# starting with "busybox" means "the applet is argv[1]". Either binary is
# bind-mounted read-only under /dev, a tmpfs of the container's own, so the
# image's filesystem (and `docker diff`) never sees it.
INIT_DIR = "/dev/.init"
INIT_SOURCE = os.path.join(os.path.dirname(__file__), "init", "docker-init.c")
INIT_SIGNALS = ("HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "WINCH", "ALRM", "CONT")
INIT_SCRIPT = (
    f'for s in {" ".join(INIT_SIGNALS)}; do trap "kill -$s \\$c 2>/dev/null" $s; done; '
    # a non-interactive shell gives a background job /dev/null for stdin:
    # hand the command our own stdin through fd 3 instead
    'exec 3<&0; "$@" <&3 3<&- & c=$!; exec 3<&-; '
    'while :; do wait $c; r=$?; kill -0 $c 2>/dev/null || exit $r; done'
)
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


def _compiled_init(cache_dir: str) -> str:
    """Our docker-init, built once per source version; "" without a compiler
    or a static libc (then the busybox fallback)."""
    from .cbuild import build_static

    return build_static(INIT_SOURCE, cache_dir, "docker-init")[0]


def init_command(cache_dir: str) -> tuple[str, list[str]]:
    """(host binary to bind-mount, argv before the command) for ``--init``."""
    built = _compiled_init(cache_dir) if cache_dir else ""
    if built:
        return built, [f"{INIT_DIR}/docker-init"]
    for path in BUSYBOX_CANDIDATES:
        if is_static(path):
            return path, [f"{INIT_DIR}/busybox-init", "sh", "-c", INIT_SCRIPT, "docker-init"]
    raise InvalidParameter("--init needs gcc with a static libc (gcc, libc6-dev) or the "
                           "host's static busybox (busybox-static) at /bin/busybox")
