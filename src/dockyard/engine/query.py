"""Reading containers: list (with Docker's filters), inspect, top, logs."""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from dockyard.units import human_duration

from . import logfile
from .base import EngineBase
from .errors import Conflict, InvalidParameter

if TYPE_CHECKING:
    from .model import Container

LIST_FILTERS = ("status", "name", "id", "label", "ancestor", "exited", "before", "since")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def _ts(s: str) -> float:
    try:
        return logfile.parse_rfc3339nano(s) / 1e9
    except ValueError:
        return 0.0


def status_text(rec: Container) -> str:
    st = rec.State
    now = time.time()
    if st.Status == "removing":
        return "Removal In Progress"
    if st.Dead:
        return "Dead"
    if st.Restarting:
        return f"Restarting ({st.ExitCode}) {human_duration(now - _ts(st.FinishedAt))} ago"
    if st.Running:
        up = f"Up {human_duration(now - _ts(st.StartedAt))}"
        if st.Paused:
            return up + " (Paused)"
        if st.Health is not None:
            h = st.Health.Status
            return up + (" (health: starting)" if h == "starting" else f" ({h})")
        return up
    if st.StartedAt.startswith("0001"):
        return "Created"
    return f"Exited ({st.ExitCode}) {human_duration(now - _ts(st.FinishedAt))} ago"


def state_name(rec: Container) -> str:
    st = rec.State
    if st.Status == "removing":
        return "removing"
    if st.Restarting:
        return "restarting"
    if st.Running:
        return "paused" if st.Paused else "running"
    if st.StartedAt.startswith("0001"):
        return "created"
    return "exited"


def _command(rec: Container) -> str:
    # dockerd's list quotes (only) the arguments that hold a space: sh -c 'a b'
    return " ".join([rec.Path, *(f"'{a}'" if " " in a else a for a in rec.Args)])


class QueryMixin(EngineBase):
    def list(self, *, all: bool = False, limit: int = -1,
             filters: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
        show_all = all
        del all  # the builtin is needed below
        filters = dict(filters or {})
        for k in filters:
            if k not in LIST_FILTERS:
                raise InvalidParameter(f"invalid filter '{k}'")
        for s in filters.get("status", []):
            if s not in STATUSES:
                raise InvalidParameter(f"invalid filter 'status={s}'")
        for x in filters.get("exited", []):
            if not x.lstrip("-").isdigit():
                raise InvalidParameter(f"invalid filter 'exited={x}'")
        before = [self.get(r).record.Created for r in filters.get("before", [])]
        since = [self.get(r).record.Created for r in filters.get("since", [])]
        ancestors = [self._ancestor_ids(a) for a in filters.get("ancestor", [])]
        recs = sorted((e.record for e in self.containers.values()),
                      key=lambda r: r.Created, reverse=True)
        out = []
        for rec in recs:
            state = state_name(rec)
            if not show_all and not filters.get("status") and state != "running" and \
                    state != "paused" and state != "restarting" and not (
                    filters.get("exited") or before or since):
                continue
            if filters.get("status") and state not in filters["status"]:
                continue
            if filters.get("id") and not any(rec.Id.startswith(i) for i in filters["id"]):
                continue
            if filters.get("name") and not any(
                    re.search(n, rec.Name) for n in filters["name"]):
                continue
            if filters.get("label") and not builtins.all(
                    _label_match(rec.Config.Labels or {}, lab) for lab in filters["label"]):
                continue
            if filters.get("exited") and (state != "exited" or str(rec.State.ExitCode)
                                          not in filters["exited"]):
                continue
            if ancestors and not any(rec.Image in ids for ids in ancestors):
                continue
            if before and not builtins.all(rec.Created < b for b in before):
                continue
            if since and not builtins.all(rec.Created > s for s in since):
                continue
            out.append(self._summary(rec, state))
            if 0 < limit <= len(out):
                break
        return out

    def disk_usage(self) -> builtins.list[dict[str, Any]]:
        """``docker system df``'s containers: the list entry plus ``SizeRw``
        (the writable layer) and ``SizeRootFs`` (that plus the image)."""
        out = []
        for e in self.containers.values():
            rec = e.record
            row = self._summary(rec, state_name(rec))
            try:
                row["SizeRw"] = self.images.snapshotter.usage(rec.SnapshotKey).size
            except Exception:
                row["SizeRw"] = 0
            try:
                row["SizeRootFs"] = row["SizeRw"] + self.images.get(rec.Image).size
            except Exception:
                row["SizeRootFs"] = row["SizeRw"]
            out.append(row)
        return out

    def _ancestor_ids(self, ref: str) -> set[str]:
        try:
            return {self.images.get(ref).id}
        except Exception:
            return {ref} if ref.startswith("sha256:") else set()

    def _summary(self, rec: Container, state: str) -> dict[str, Any]:
        return {
            "Id": rec.Id, "Names": [rec.Name], "Image": rec.Config.Image, "ImageID": rec.Image,
            "Command": _command(rec), "Created": int(_ts(rec.Created)),
            "Ports": self.ports_summary(rec),
            "Labels": rec.Config.Labels or {}, "State": state, "Status": status_text(rec),
            "HostConfig": {"NetworkMode": rec.HostConfig.NetworkMode or "bridge"},
            "NetworkSettings": {"Networks": {}}, "Mounts": [],
        }

    def inspect(self, ref: str) -> dict[str, Any]:
        e = self.get(ref)
        rec = e.record
        doc: dict[str, Any] = msgspec.to_builtins(rec)
        doc.pop("SnapshotKey", None)
        doc.pop("ManuallyStopped", None)
        doc["State"]["Status"] = state_name(rec)
        doc["ExecIDs"] = sorted(e.execs) or None
        doc["GraphDriver"] = {"Name": rec.Driver, "Data": None}
        doc.pop("MountPoints", None)
        doc["Mounts"] = []
        if rec.MountPoints and self.volumes is not None:
            from dockyard.volume.container import inspect_mounts

            doc["Mounts"] = inspect_mounts(self.volumes, rec.MountPoints)
        doc["NetworkSettings"] = self.network_settings(rec)
        order = ["Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath",
                 "HostnamePath", "HostsPath", "LogPath", "Name", "RestartCount", "Driver",
                 "Platform", "MountLabel", "ProcessLabel", "AppArmorProfile", "ExecIDs",
                 "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"]
        return {k: doc[k] for k in order if k in doc}

    async def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        e = self.get(ref)
        if not e.record.State.Running:
            raise Conflict(f"Container {e.record.Id} is not running")
        pids = set(await asyncio.to_thread(self.runtime.ps, e.record.Id))
        args = ps_args.split() if ps_args else ["-ef"]
        proc = await asyncio.create_subprocess_exec(
            "ps", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise InvalidParameter(f"ps: {err.decode().strip()}")
        lines = out.decode().splitlines()
        titles = lines[0].split()
        try:
            pid_col = titles.index("PID")
        except ValueError:
            raise InvalidParameter("Couldn't find PID field in ps output") from None
        procs = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
                procs.append(fields)
        return {"Titles": titles, "Processes": procs}

    async def logs(self, ref: str, *, stdout: bool = True, stderr: bool = True,
                   follow: bool = False, since_ns: int = 0, until_ns: int = 0,
                   timestamps: bool = False, tail: str = "all") -> AsyncIterator[tuple[int, bytes]]:
        """(stream, bytes) records of the json-file log, Docker's ``/logs`` semantics."""
        e = self.get(ref)
        rec = e.record
        if rec.HostConfig.LogConfig.Type == "none":
            raise InvalidParameter('configured logging driver does not support reading')
        if tail not in ("all", "") and not tail.lstrip("-").isdigit():
            raise InvalidParameter(f"invalid tail value {tail!r}: expected a number or 'all'")
        n_tail = -1 if tail in ("all", "") or int(tail) < 0 else int(tail)
        want = {"stdout": stdout, "stderr": stderr}

        def keep(stream: str, t: str) -> bool:
            if not want.get(stream):
                return False
            try:
                ts = logfile.parse_rfc3339nano(t)
            except ValueError:
                return False
            return not (since_ns and ts < since_ns) and not (until_ns and ts > until_ns)

        def fmt(stream: str, data: bytes, t: str) -> tuple[int, bytes]:
            return (1 if stream == "stdout" else 2, (t.encode() + b" " + data) if timestamps
                    else data)

        if rec.HostConfig.LogConfig.Type == "local":
            from . import locallog

            fmt_mod: Any = locallog
            path = locallog.path_for(self.container_dir(rec.Id))
        else:
            fmt_mod, path = logfile, rec.LogPath
        got, pos, ino = await asyncio.to_thread(_read_log, fmt_mod, path)
        records = [r for r in got if keep(r[0], r[2])]
        if n_tail >= 0:
            records = records[len(records) - n_tail:] if n_tail else []
        for r in records:
            yield fmt(*r)
        if not follow or until_ns:
            return
        # Follow: poll the live file from exactly where the read above ended
        # (not from its size now: what was written in between would be lost).
        while True:
            running = e.record.State.Running or e.record.State.Restarting
            try:
                st = os.stat(path)
                if st.st_ino != ino:
                    pos, ino = 0, st.st_ino  # rotated
                if st.st_size > pos:
                    with open(path, "rb") as f:
                        f.seek(pos)
                        chunk = f.read()
                    got, used = fmt_mod.decode(chunk)
                    pos += used
                    for r in got:
                        if keep(r[0], r[2]):
                            yield fmt(*r)
            except FileNotFoundError:
                pass
            if not running or rec.Id not in self.containers:
                return
            await asyncio.sleep(0.1)


def _read_log(fmt_mod: Any, path: str) -> tuple[list[tuple[str, bytes, str]], int, int]:
    """Every complete record of the log's files, oldest first; and the offset
    and inode in the live file where they end (a line being written stays
    for the follower)."""
    import gzip

    out: list[tuple[str, bytes, str]] = []
    pos = ino = 0
    for p in fmt_mod.files(path):
        try:
            f = gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")
            with f:
                if p == path:
                    ino = os.fstat(f.fileno()).st_ino
                data = f.read()
        except (OSError, EOFError):
            continue  # rotated away meanwhile, or a torn .gz
        got, used = fmt_mod.decode(data)
        out += got
        if p == path:
            pos = used
    return out, pos, ino


def _label_match(labels: Mapping[str, str], want: str) -> bool:
    k, sep, v = want.partition("=")
    return k in labels and (not sep or labels[k] == v)

