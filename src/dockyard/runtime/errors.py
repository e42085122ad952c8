"""Errors of the runtime package, each with the exit code the CLI gives it.

    RuntimeFailure                  exit 1: anything the runtime refuses or fails to do
    ├── InvalidArgument             a bad id, flag or value on the command line / API call
    ├── InvalidConfig               config.json does not parse, or asks for something we
    │                               cannot do (unknown capability, rlimit, sysctl, ...)
    ├── ContainerNotFound           no state directory for the id
    ├── ContainerExists             create with an id already in use
    ├── InvalidState                the verb does not apply to the container's status
    │                               (start of a running one, kill of a stopped one, ...)
    ├── ProcessSetupError           a setup stage failed inside the new namespaces; the
    │                               message is the stage's own, sent over the sync socket
    ├── HookError                   a hook that must succeed failed or timed out
    └── CgroupsError                the cgroup manager refused (missing controller, ...)

runc gives exit status 1 for all of these; so do we (``EXIT_CODES``). ``run``
and ``exec`` in the foreground return the container process's own status
instead (128+N when a signal killed it).
"""

from __future__ import annotations


class RuntimeFailure(Exception):
    """Base of the runtime's errors; ``str(e)`` is a one-line message for users."""

    exit_code = 1


class InvalidArgument(RuntimeFailure):
    pass


class InvalidConfig(RuntimeFailure):
    pass


class ContainerNotFound(RuntimeFailure):
    def __init__(self, container_id: str) -> None:
        super().__init__(f'container "{container_id}" does not exist')
        self.container_id = container_id


class ContainerExists(RuntimeFailure):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container with id exists: {container_id}")
        self.container_id = container_id


class InvalidState(RuntimeFailure):
    pass


class ProcessSetupError(RuntimeFailure):
    pass


class HookError(RuntimeFailure):
    pass


class CgroupsError(RuntimeFailure):
    pass


EXIT_CODES: dict[type[RuntimeFailure], int] = {
    RuntimeFailure: 1,
    InvalidArgument: 1,
    InvalidConfig: 1,
    ContainerNotFound: 1,
    ContainerExists: 1,
    InvalidState: 1,
    ProcessSetupError: 1,
    HookError: 1,
    CgroupsError: 1,
}
