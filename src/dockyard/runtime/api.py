"""The in-process API: ``Runtime(root=...)``, the same verbs as the CLI.

The engine calls these instead of spawning ``dockyard-runtime`` (an
interpreter start per verb). Containers made here are children of the
calling process (``CLONE_PARENT``), so ``wait()`` can collect their exit
status; call it (or ``delete``) for every container, or they stay zombies.
The calling process may have threads: all namespace work happens in a
freshly forked child.
"""

from __future__ import annotations

import signal

from dockyard.oci.runtime import LinuxResources, Process, State, load_state

from .container import DEFAULT_ROOT, Container, list_ids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cgroups import Stats


class Runtime:
    """runc's verbs in-process, on one state root."""

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = root

    def create(
        self,
        container_id: str,
        bundle: str,
        *,
        console_socket: str | None = None,
        pid_file: str | None = None,
        stdio: tuple[int, int, int] | None = None,
        no_pivot: bool = False,
        preserve_fds: int = 0,
    ) -> State:
        from .create import create

        create(self.root, container_id, bundle, console_socket=console_socket, pid_file=pid_file,
               stdio=stdio, no_pivot=no_pivot, preserve_fds=preserve_fds)
        return self.state(container_id)

    def start(self, container_id: str) -> None:
        from .start import start

        start(self.root, container_id)

    def run(self, container_id: str, bundle: str, *, stdio: tuple[int, int, int] | None = None,
            console_socket: str | None = None) -> State:
        """create + start (detached); ``wait`` for the exit status."""
        self.create(container_id, bundle, stdio=stdio, console_socket=console_socket)
        self.start(container_id)
        return self.state(container_id)

    def state(self, container_id: str) -> State:
        import json

        return load_state(json.dumps(Container(self.root, container_id).load().oci_state()))

    def wait(self, container_id: str) -> int:
        """Wait for the init (a child of this process) to exit; its status, recorded."""
        from .delete import wait_child

        c = Container(self.root, container_id).load()
        try:
            code = wait_child(c.pid)
        except ChildProcessError:
            code = int(c.state.get("exitStatus", -1))
        c.state["exitStatus"] = code
        c.save()
        return code

    def kill(self, container_id: str, sig: int | str = signal.SIGTERM, *, all: bool = False) -> None:
        from .kill import kill

        kill(self.root, container_id, sig, all)

    def delete(self, container_id: str, *, force: bool = False) -> None:
        from .delete import delete

        delete(self.root, container_id, force)

    def exec(
        self,
        container_id: str,
        args: list[str] | Process,
        *,
        env: list[str] | None = None,
        cwd: str | None = None,
        user: str | None = None,
        stdio: tuple[int, int, int] | None = None,
        console_socket: str | None = None,
        tty: bool = False,
    ) -> int:
        """Start a process in the container; its pid (a child of this process)."""
        from dockyard.oci.runtime import load_config

        from .exec import build_process, exec_process

        if isinstance(args, Process):
            proc = args
        else:
            base = load_config(Container(self.root, container_id).load().config_bytes()).process
            proc = build_process(base, args, env=env, cwd=cwd, user=user, tty=tty)
        return exec_process(self.root, container_id, proc, stdio=stdio, console_socket=console_socket)

    def pause(self, container_id: str) -> None:
        from .pause import pause

        pause(self.root, container_id)

    def resume(self, container_id: str) -> None:
        from .pause import resume

        resume(self.root, container_id)

    def update(self, container_id: str, resources: LinuxResources) -> None:
        from .update import update

        update(self.root, container_id, resources)

    def stats(self, container_id: str) -> Stats:
        from .events import stats

        return stats(self.root, container_id)

    def ps(self, container_id: str) -> list[int]:
        from .ps import container_pids

        return container_pids(self.root, container_id)

    def list(self) -> list[State]:
        return [self.state(cid) for cid in list_ids(self.root)]
