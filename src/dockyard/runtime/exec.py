"""``exec``: run another process in a running (or created) container.

The same stages as create, in ``exec`` mode: ``[1:CHILD]`` joins the
container's namespaces through /proc/INIT/ns/* (user first, mount last)
after being put in its cgroup, and ``[2:INIT]`` (a child of the pid
namespace) sets up the process and execs. The process starts from the
container's own ``process`` (env, user, capabilities, noNewPrivileges,
rlimits), overridden by the flags, or is read whole from ``--process``.
"""

from __future__ import annotations

import os

import msgspec

from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.runtime import LinuxCapabilities, Process, User, load_config

from . import process as process_setup
from . import stages
from .container import Container, new_cgroup, write_private
from .delete import wait_child
from .errors import InvalidArgument, InvalidConfig, InvalidState

TYPE_CHECKING = False
if TYPE_CHECKING:

    from .cli import Globals


def build_process(
    base: Process | None,
    args: list[str],
    *,
    env: list[str] | None = None,
    cwd: str | None = None,
    user: str | None = None,
    additional_gids: list[int] | None = None,
    tty: bool = False,
    caps: list[str] | None = None,
    no_new_privileges: bool | None = None,
) -> Process:
    """``runc exec``'s rule: the container's process, with these changes."""
    p = base or Process()
    env_all = list(p.env or [])
    for kv in env or ():
        key = kv.split("=", 1)[0]
        env_all = [e for e in env_all if e.split("=", 1)[0] != key] + [kv]
    u = p.user
    if user:
        uid, _, gid = user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise InvalidArgument(f"--user {user!r}: expected UID[:GID] as numbers")
        u = User(uid=int(uid), gid=int(gid) if gid else 0)
    if additional_gids:
        u = msgspec.structs.replace(u, additional_gids=additional_gids)
    c = p.capabilities
    if caps:
        c = c or LinuxCapabilities()
        c = LinuxCapabilities(**{
            f: sorted(set(getattr(c, f) or []) | set(caps))
            for f in ("bounding", "effective", "inheritable", "permitted", "ambient")
        })
    return msgspec.structs.replace(
        p, args=args, env=env_all, cwd=cwd or p.cwd, user=u, terminal=tty, capabilities=c,
        no_new_privileges=p.no_new_privileges if no_new_privileges is None else no_new_privileges,
    )


def exec_process(
    root: str,
    container_id: str,
    proc: Process,
    *,
    console_socket: str | None = None,
    console_fd: int = -1,
    pid_file: str | None = None,
    stdio: tuple[int, int, int] | None = None,
    preserve_fds: int = 0,
) -> int:
    """Start ``proc`` in the container; return its host pid (our child)."""
    c = Container(root, container_id).load()
    status = c.status()
    if status == "stopped":
        raise InvalidState("cannot exec in a stopped container")
    if status == "paused":
        raise InvalidState("cannot exec in a paused container")
    if proc.terminal and not console_socket and console_fd < 0:
        raise InvalidArgument("cannot allocate tty without a console socket")
    try:
        spec = load_config(c.config_bytes())
    except InvalidSpecError as e:
        raise InvalidConfig(str(e)) from None
    process_setup.check(proc)
    namespaces = spec.linux.namespaces or [] if spec.linux else []
    join = {ns.type: f"/proc/{c.pid}/ns/{stages.NS_PROC_NAMES[ns.type]}" for ns in namespaces}
    mgr = None
    if c.state.get("cgroupsPath"):
        mgr = new_cgroup(c.state["cgroupsPath"], None)
        if mgr is not None and not mgr.exists():
            mgr = None
    seccomp = None
    if spec.linux and spec.linux.seccomp:
        from .seccomp_cache import prepare  # the program create compiled, usually

        seccomp = prepare(root, spec.linux.seccomp)
    own = False
    if console_socket:
        from .console import connect

        console_fd = connect(console_socket)
        own = True
    try:
        pid = stages.launch(stages.Launch(
            mode="exec", process=proc, join=join, console_fd=console_fd, stdio=stdio,
            preserve_fds=preserve_fds, cgroup=mgr, seccomp=seccomp,
        ))
    finally:
        if own:
            os.close(console_fd)
    if pid_file:
        write_private(os.path.abspath(pid_file), str(pid).encode(), 0o644)
    return pid


def cli(verb: str, argv: list[str], g: Globals) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="dockyard-runtime exec")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--cwd", default=None)
    p.add_argument("-u", "--user", default=None)
    p.add_argument("-g", "--additional-gids", action="append", type=int, default=[])
    p.add_argument("-c", "--cap", action="append", default=[])
    p.add_argument("--no-new-privs", action="store_true", default=None)
    p.add_argument("-p", "--process", default=None)
    p.add_argument("--console-socket", default=None)
    p.add_argument("--pid-file", default=None)
    p.add_argument("--preserve-fds", type=int, default=0)
    p.add_argument("id")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    c = Container(g.root, a.id).load()
    if a.process:
        try:
            with open(a.process, "rb") as f:
                proc = msgspec.json.decode(f.read(), type=Process)
        except (OSError, msgspec.ValidationError, msgspec.DecodeError) as e:
            raise InvalidConfig(f"--process {a.process}: {e}") from None
    else:
        if not a.command:
            raise InvalidArgument("exec: no command given")
        try:
            base = load_config(c.config_bytes()).process
        except InvalidSpecError as e:
            raise InvalidConfig(str(e)) from None
        proc = build_process(base, a.command, env=a.env, cwd=a.cwd, user=a.user,
                             additional_gids=a.additional_gids, tty=a.tty, caps=a.cap,
                             no_new_privileges=a.no_new_privs)
    pair = None
    if proc.terminal and not a.console_socket and not a.detach:
        import socket

        pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = exec_process(g.root, a.id, proc, console_socket=a.console_socket,
                       console_fd=pair[1].fileno() if pair else -1, pid_file=a.pid_file,
                       preserve_fds=a.preserve_fds)
    if a.detach:
        return 0
    from .signals import forwarding

    with forwarding(pid):
        if pair is not None:
            from .console import receive_master
            from .tty import copy_until_exit

            pair[1].close()
            master = receive_master(pair[0])
            return copy_until_exit(master, pid)
        return wait_child(pid)


