"""``Engine``: the containers of one daemon, their records, supervisors and state.

State on disk::

    <root>/containers/<id>/config.v2.json     the record (model.Container), atomic writes
    <root>/containers/<id>/container-json.log the json-file log (+ .1, .2 rotated)
    <root>/containers/<id>/{hostname,hosts,resolv.conf}
    <run-root>/c/<id[:12]>/                   bundle (config.json, rootfs/ mount point),
                                              supervisor.sock, supervisor.pid, exit.json
    <run-root>/runtime/                       the OCI runtime's state root

The record is the truth; the run dir is what a running container needs and
vanishes on reboot. At open, each record whose State says running is
checked against its supervisor: connected again if it lives (live restore),
or given the exit status the supervisor left in exit.json. Before that,
``EngineBase._reconcile`` makes the rest agree with the records after a
``kill -9`` mid-verb (half-made or half-removed containers' snapshots and
run dirs, a start cut short before its record said running).

Verbs live one module per concern, mixed in here over ``base.EngineBase``
(the shared state): ``create.py`` (create, rename, rm, prune),
``lifecycle.py`` (start, stop, kill, restart, pause, wait, exits, restart
policies, live restore), ``query.py`` (list, inspect, top, logs, df),
``exec.py``, ``attach.py``, ``stats.py``, ``update.py``, ``health.py``,
``changes.py`` (diff, export), ``archive.py`` (cp), ``commit.py``.
Every public verb is a coroutine on the daemon's event loop; blocking disk
work (image unpack, mounts, runtime delete) runs in threads. Volumes and
binds go through ``volume.container`` (prepare at create, setup at start,
teardown at exit, remove at rm).
"""

from __future__ import annotations

from .archive import ArchiveMixin
from .attach import AttachMixin
from .base import LOG, RECORD, EngineBase, Entry, Options
from .changes import ChangesMixin
from .commit import CommitMixin
from .create import CreateMixin
from .exec import ExecMixin
from .health import HealthMixin
from .lifecycle import LifecycleMixin
from .network import NetworkMixin
from .query import QueryMixin
from .stats import StatsMixin
from .update import UpdateMixin

__all__ = ["LOG", "RECORD", "Engine", "EngineBase", "Entry", "Options"]


class Engine(CreateMixin, LifecycleMixin, QueryMixin, ExecMixin, AttachMixin, StatsMixin,
             UpdateMixin, ChangesMixin, ArchiveMixin, HealthMixin,
             CommitMixin, NetworkMixin, EngineBase):
    """Every verb, on one daemon's containers."""
