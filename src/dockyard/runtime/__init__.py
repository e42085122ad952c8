"""The OCI runtime: runc's role. A bundle becomes a running container.

The story of ``create``: the bundle's config.json is decoded and checked
(``create.py``; the CLI decodes with ``config.py`` into light views of the
``oci.runtime`` types, the engine, which has msgspec loaded, into the types
themselves); a state directory
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
the verb it runs (the CLI's start-up time is part of every container's), and
the lifecycle verbs never import msgspec, ``json`` (``jsonio.py`` calls its C
codec), ``re``, ``enum``/``signal`` (``_signal`` instead), ``typing`` or
``dataclasses``; ``start``, ``state`` and ``delete`` never import the creation
machinery. ``tests/runtime/test_perf_paths.py`` holds each verb to that.
A seccomp profile is compiled once per state root and kept
(``seccomp_cache.py``): later CLI calls load the program without pyseccomp.
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
