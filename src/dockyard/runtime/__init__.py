"""The OCI runtime: runc's role. A bundle becomes a running container.

The story of ``create``: the bundle's config.json is decoded into the
``oci.runtime`` types and checked (``create.py``); a state directory
(``container.py``: state.json, a copy of config.json, exec.fifo) and the
cgroup (``cgroups/``) are made; then the setup stages run (``stages.py``,
messages in ``sync.py``): ``[1:CHILD]`` enters or creates the namespaces
(a single-threaded caller skips it and clones the init directly),
``[2:INIT]`` (pid 1 of the new pid namespace) builds the root filesystem
(``rootfs.py``, ``mounts.py``, ``securejoin.py``), runs the hooks
(``hooks.py``), sets up the terminal (``console.py``) and the process
(``process.py``: rlimits, capabilities via ``caps.py``, user, seccomp), and
blocks on exec.fifo. ``start`` opens the fifo and the init execs the user's
program. ``delete`` kills what is left, removes the cgroup, runs poststop
hooks and the state directory.

Entry points:

- ``dockyard-runtime`` (``cli.main``): runc's command line, one module per
  verb (create, start, run, state, kill, delete, exec, list, ps, pause and
  resume, update, events, spec).
- ``Runtime(root=...)`` (``api.py``): the same verbs in-process, for the
  engine.
- ``spec.default_spec()`` / ``default_spec_dict()`` / ``write_bundle()``:
  a runc-style default config for tools and tests.
- errors: ``errors.py`` (each maps to an exit code).

Default cgroup: ``/dockyard/<id>`` when config.json has no cgroupsPath.

Imports from dockyard: ``oci`` and ``linux`` only; it knows nothing of
images, the engine or HTTP. Kept light: the CLI imports only the module of
the verb it runs (the CLI's start-up time is part of every container's).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .api import Runtime

__all__ = ["Runtime"]


def __getattr__(name: str) -> object:
    if name == "Runtime":
        from .api import Runtime

        return Runtime
    raise AttributeError(name)
