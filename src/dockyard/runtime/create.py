"""``create``: a bundle becomes a container whose init waits on exec.fifo.

Everything that can be checked is checked before anything is made, so a
bad config changes nothing. After the state directory exists, any failure
undoes what was done (init killed, cgroup removed, directory removed); and
``state.json`` records the cgroup path before the cgroup is made, so that
even a ``kill -9`` of the runtime mid-create leaves only what
``delete --force`` cleans.
"""

from __future__ import annotations

import os
import sys

from . import config, hooks, jsonio, process, rootfs, stages
from .container import (
    OCI_VERSION,
    Container,
    new_cgroup,
    now_rfc3339,
    proc_start_time,
    remove_dir,
    write_private,
)
from .errors import ContainerExists, InvalidArgument, InvalidConfig, RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.oci.runtime import LinuxIDMapping, LinuxResources, Spec

    from .cgroups import CgroupManager

CGROUP_PARENT = "/dockyard"

# Like runc: the default devices (and /dev/pts, /dev/ptmx, mknod of anything)
# are allowed after the spec's own device rules.
_ALLOWED_DEVICES: tuple[tuple[str, int | None, int | None, str], ...] = (
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", 1, 3, "rwm"),
    ("c", 1, 5, "rwm"),
    ("c", 1, 7, "rwm"),
    ("c", 1, 8, "rwm"),
    ("c", 1, 9, "rwm"),
    ("c", 5, 0, "rwm"),
    ("c", 5, 1, "rwm"),
    ("c", 5, 2, "rwm"),
    ("c", 136, None, "rwm"),
)


def load_bundle(bundle: str) -> tuple[Spec, bytes]:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InvalidConfig(f"config.json: open {path}: no such file or directory") from None
    except OSError as e:
        raise InvalidConfig(f"config.json: open {path}: {e.strerror}") from None
    if "msgspec" in sys.modules:
        # Loaded already (the engine, in-process): its decoder is ~20x faster.
        from dockyard.oci.errors import InvalidSpecError
        from dockyard.oci.runtime import load_config

        try:
            return load_config(raw), raw
        except InvalidSpecError as e:
            raise InvalidConfig(str(e)) from None
    # The CLI: config.py's views. Importing msgspec would cost more CPU than
    # the rest of `create` together (config.py says why).
    return config.load_config(raw), raw


def validate(spec: Spec, bundle: str) -> str:
    """Check what the kernel would refuse later; return the rootfs path."""
    if spec.process is None:
        raise InvalidConfig("config.json: $.process: required to create a container")
    if spec.root is None:
        raise InvalidConfig("config.json: $.root: required")
    root = spec.root.path if spec.root.path.startswith("/") else os.path.join(bundle, spec.root.path)
    if not os.path.isdir(root):
        raise InvalidConfig(f"rootfs ({root}) does not exist")
    namespaces = {ns.type: ns.path for ns in (spec.linux.namespaces or ())} if spec.linux else {}
    if "mount" not in namespaces:
        raise InvalidConfig("config.json: $.linux.namespaces: a mount namespace is required")
    for t, path in namespaces.items():
        if path and not os.path.exists(path):
            raise InvalidConfig(f"config.json: $.linux.namespaces: {t} namespace path {path!r} does not exist")
    if spec.hostname and "uts" not in namespaces:
        raise InvalidConfig("config.json: $.hostname: setting the hostname needs a private uts namespace")
    if "user" in namespaces and not namespaces["user"]:
        linux = spec.linux
        if linux is None or not linux.uid_mappings or not linux.gid_mappings:
            raise InvalidConfig(
                "config.json: $.linux.uidMappings/gidMappings: a new user namespace needs both"
            )
    process.check(spec.process)
    rootfs.check_sysctls(spec, set(namespaces))
    return os.path.realpath(root)


def _maps(mappings: list[LinuxIDMapping] | None) -> str:
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings or ())


def cgroup_resources(spec: Spec) -> LinuxResources:
    res: LinuxResources = (spec.linux.resources if spec.linux and spec.linux.resources
                           else config.new("LinuxResources"))
    rules = list(res.devices or [])
    for kind, major, minor, access in _ALLOWED_DEVICES:
        rules.append(config.new("LinuxDeviceCgroup", allow=True, type=kind, major=major, minor=minor,
                                access=access))
    for d in (spec.linux.devices or ()) if spec.linux else ():
        rules.append(config.new("LinuxDeviceCgroup", allow=True, type=d.type, major=d.major,
                                minor=d.minor, access="rwm"))
    return config.replace(res, devices=rules)


def create(
    root: str,
    container_id: str,
    bundle: str,
    *,
    console_socket: str | None = None,
    pid_file: str | None = None,
    no_pivot: bool = False,
    preserve_fds: int = 0,
    stdio: tuple[int, int, int] | None = None,
    detach: bool = True,
    console_fd: int = -1,
) -> Container:
    """Create the container; return it with its init waiting on exec.fifo."""
    c = Container(root, container_id)
    bundle = os.path.abspath(bundle)
    spec, raw = load_bundle(bundle)
    rootfs_path = validate(spec, bundle)
    proc = spec.process
    assert proc is not None
    if detach and proc.terminal and not console_socket and console_fd < 0:
        raise InvalidArgument("cannot allocate tty if the runtime will detach without setting console socket")
    if console_socket and not proc.terminal:
        raise InvalidArgument("cannot use console socket if the runtime will not allocate tty")

    os.makedirs(root, 0o711, exist_ok=True)
    try:
        os.mkdir(c.dir, 0o711)
    except FileExistsError:
        raise ContainerExists(container_id) from None
    mgr: CgroupManager | None = None
    own_console = False
    linux = spec.linux
    c.state = {
        "ociVersion": OCI_VERSION,
        "id": container_id,
        "status": "creating",
        "pid": 0,
        "bundle": bundle,
        "rootfs": rootfs_path,
        "created": now_rfc3339(),
        "owner": "",
        "cgroupsPath": (linux.cgroups_path if linux and linux.cgroups_path else f"{CGROUP_PARENT}/{container_id}"),
    }
    if spec.annotations:
        c.state["annotations"] = spec.annotations
    try:
        c.save()
        write_private(os.path.join(c.dir, "config.json"), raw)
        os.mkfifo(c.fifo, 0o622)
        os.chmod(c.fifo, 0o622)
        mgr = new_cgroup(c.state["cgroupsPath"], cgroup_resources(spec))
        if mgr is not None:
            mgr.create()
        seccomp = None
        if linux and linux.seccomp:
            # Compiled once per profile for every CLI call after (seccomp_cache.py).
            from .seccomp_cache import prepare

            seccomp = prepare(root, linux.seccomp)
        if console_socket:
            console_fd = stages_console_connect(console_socket)
            own_console = True
        wire_hooks: dict[str, Any] = jsonio.loads(raw).get("hooks") or {}
        if wire_hooks.get("createContainer") or wire_hooks.get("startContainer"):
            import subprocess  # noqa: F401  (imported now: the init cannot after pivot_root)

        def state_bytes(status: str, pid: int) -> bytes:
            s = c.oci_state()
            s.update(status=status, pid=pid)
            return jsonio.dumps(s, compact=False).encode()

        def on_init(pid: int) -> None:
            c.state["pid"] = pid
            c.state["initProcessStart"] = proc_start_time(pid)
            c.save()

        def parent_hooks(pid: int) -> None:
            state = state_bytes("creating", pid)
            hooks.run(wire_hooks.get("prestart"), state, "prestart")
            hooks.run(wire_hooks.get("createRuntime"), state, "createRuntime")

        def container_hooks(phase: str, pid: int) -> None:
            status = "creating" if phase == "createContainer" else "created"
            hooks.run(wire_hooks.get(phase), state_bytes(status, pid), phase)

        namespaces = linux.namespaces or [] if linux else []
        cfg = stages.Launch(
            mode="create",
            process=proc,
            spec=spec,
            bundle=bundle,
            rootfs=rootfs_path,
            state_dir=c.dir,
            join={ns.type: ns.path for ns in namespaces if ns.path},
            new=[ns.type for ns in namespaces if not ns.path],
            uid_map=_maps(linux.uid_mappings if linux else None),
            gid_map=_maps(linux.gid_mappings if linux else None),
            console_fd=console_fd,
            stdio=stdio,
            preserve_fds=preserve_fds,
            no_pivot=no_pivot,
            cgroup=mgr,
            seccomp=seccomp,
            on_init=on_init,
            # Without such hooks the stages skip their hand-offs (stages.py).
            parent_hooks=parent_hooks if wire_hooks.get("prestart") or wire_hooks.get("createRuntime") else None,
            container_hooks=(container_hooks if wire_hooks.get("createContainer") or wire_hooks.get("startContainer")
                             else None),
        )
        pid = stages.launch(cfg)
        c.state["status"] = "created"
        c.save()
        if pid_file:
            write_private(os.path.abspath(pid_file), str(pid).encode(), 0o644)
    except BaseException as e:
        _undo(c, mgr)
        if isinstance(e, OSError) and not isinstance(e, RuntimeFailure):
            raise RuntimeFailure(f"create {container_id}: {e}") from None
        raise
    finally:
        if own_console:
            os.close(console_fd)
    return c


def stages_console_connect(path: str) -> int:
    from .console import connect

    return connect(path)


def _undo(c: Container, mgr: CgroupManager | None) -> None:
    pid = c.pid
    if pid and c.init_alive():
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    if mgr is not None:
        try:
            mgr.destroy()
        except Exception:
            pass
    remove_dir(c.dir)


class CreateArgs:
    """The flags of ``create`` and ``run`` (parsed by hand: argparse costs start-up time)."""

    def __init__(self) -> None:
        self.id = ""
        self.bundle = "."
        self.console_socket: str | None = None
        self.pid_file: str | None = None
        self.no_pivot = False
        self.preserve_fds = 0
        self.detach = False
        self.keep = False


def parse_create_args(verb: str, argv: list[str]) -> CreateArgs:
    usage = (f"usage: dockyard-runtime {verb} [--bundle DIR] [--console-socket PATH] "
             f"[--pid-file PATH] [--no-pivot] [--preserve-fds N]"
             f"{' [--detach] [--keep]' if verb == 'run' else ''} <container-id>")
    a = CreateArgs()
    valued = {"-b": "bundle", "--bundle": "bundle", "--console-socket": "console_socket",
              "--pid-file": "pid_file", "--preserve-fds": "preserve_fds"}
    switches = {"--no-pivot": "no_pivot", "--no-new-keyring": ""}
    if verb == "run":
        switches.update({"-d": "detach", "--detach": "detach", "--keep": "keep"})
    ids: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("-h", "--help"):
            raise SystemExit(usage)
        if name in valued:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise InvalidArgument(f"flag needs an argument: {name}")
                value = argv[i]
            if valued[name] == "preserve_fds":
                if not value.isdigit():
                    raise InvalidArgument(f"--preserve-fds {value!r}: expected a number")
                a.preserve_fds = int(value)
            else:
                setattr(a, valued[name], value)
        elif name in switches:
            if switches[name]:
                setattr(a, switches[name], True)
        elif arg.startswith("-") and arg != "-":
            raise InvalidArgument(f"flag provided but not defined: {arg}")
        else:
            ids.append(arg)
        i += 1
    if len(ids) != 1:
        raise SystemExit(usage)
    a.id = ids[0]
    return a


def cli(verb: str, argv: list[str], g: Any) -> int:
    a = parse_create_args(verb, argv)
    create(g.root, a.id, a.bundle, console_socket=a.console_socket, pid_file=a.pid_file,
           no_pivot=a.no_pivot, preserve_fds=a.preserve_fds)
    return 0
