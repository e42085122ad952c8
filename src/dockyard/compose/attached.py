"""Attached ``up`` with ``--abort-on-container-exit`` / ``--exit-code-from SERVICE``.

One waiter thread per container (``POST /containers/{id}/wait``, each on its
own connection: the call blocks until the container stops). The first
container to exit ends the session: the project is stopped, as docker
compose does, and the exit code is that first container's, or with
``--exit-code-from`` the named service's (read once everything stopped).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from dockyard.client import APIError, Client
from dockyard.compose import labels as L
from dockyard.compose.engine_api import name_of
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.logs import print_logs

Say = Callable[[str, str], None]


def check_exit_code_from(services: list[str], exit_code_from: str | None) -> None:
    if exit_code_from is not None and exit_code_from not in services:
        raise EngineCommandError(f"--exit-code-from {exit_code_from!r}: no such service in "
                                 f"this up (expected one of: {', '.join(services)})")


def run_until_first_exit(client: Client, containers: list[dict[str, Any]],
                         emit: Callable[[str], None], stop_all: Callable[[], None], say: Say,
                         *, exit_code_from: str | None = None, prefix: bool = True) -> int:
    """Stream logs until one container exits, stop the rest; returns the exit code."""
    exited: queue.Queue[tuple[dict[str, Any], int]] = queue.Queue()

    def waiter(c: dict[str, Any]) -> None:
        with Client(client.host) as own:
            try:
                code = int(own.wait(c["Id"]).get("StatusCode", 0))
            except APIError:
                code = 1  # removed under us: it is gone all the same
        exited.put((c, code))

    logs = threading.Thread(target=print_logs, args=(client, containers, emit),
                            kwargs={"follow": True, "prefix": prefix}, daemon=True)
    logs.start()
    for c in containers:
        threading.Thread(target=waiter, args=(c,), daemon=True).start()
    first, code = exited.get()
    say(f"{name_of(first)} exited with code {code}", "")
    emit("Aborting on container exit...")
    stop_all()
    logs.join(10)
    if exit_code_from is None:
        return code
    for c in containers:
        if c["Labels"].get(L.SERVICE) == exit_code_from:
            state = client.inspect(c["Id"])["State"]
            return int(state.get("ExitCode") or 0)
    return code
