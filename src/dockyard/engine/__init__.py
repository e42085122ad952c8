"""The engine: dockerd's containers and containerd-shim's supervision.

Owns container records (``model.py``: Docker's field names; ``service.py``:
records on disk, lookup by id/name/prefix, live restore), names
(``names.py``), create (``create.py``: image config merge, snapshot, all
or nothing), the OCI bundle (``bundle.py``), lifecycle (``lifecycle.py``:
start/stop/kill/restart/pause/wait, exits, restart policies), queries
(``query.py``: list with filters, inspect, top, logs, df), ``exec.py``,
``attach.py``, ``update.py``, ``stats.py``, ``health.py`` (health checks),
``events.py`` (the event bus), ``changes.py`` (diff, export),
``archive.py`` (``docker cp``, paths resolved inside the container), and
the log drivers: json-file (``logfile.py``) and Docker's ``local`` format
(``locallog.py``). ``--init``'s PID 1 is ``init/docker-init.c``, built
static on first use (``bundle.init_command``; busybox fallback). ``base.py`` holds the state
the verb modules share; ``service.Engine`` mixes them together.

Each running container has a supervisor process (``supervisor.py``),
forked from a fork server started before the daemon has threads
(``zygote.py``); the daemon talks to it over one socket (``frames.py``,
``shim.py``). Killing the daemon leaves containers, supervisors and logs
running; the next daemon reconnects.

Entry point: ``Engine(Options(root, run_root), images, Zygote())`` then
``await engine.load()``. Errors: ``errors.py``.

Imports ``runtime``, ``images``, ``snapshot``, ``oci``, ``linux``; knows
nothing of HTTP; must never import ``api``, ``client`` or ``cli``.
"""
