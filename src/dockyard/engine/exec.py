"""``exec``: create an instance, start it through the supervisor, inspect its exit.

The supervisor runs the process (the runtime's exec joins the container's
namespaces and cgroup) so it is the supervisor's child and its exit code
is collected there; it arrives on the supervisor connection *before* the
output stream ends, which is what ``docker exec`` relies on: it reads the
stream to its end, then ``GET /exec/ID/json`` for ``ExitCode``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .base import EngineBase
from .detachkeys import DetachFilter
from .errors import Conflict, EngineError, InvalidParameter, NotFound
from .shim import Stream

if TYPE_CHECKING:
    from .base import Entry


@dataclass
class ExecInstance:
    ID: str
    ContainerID: str
    Cmd: list[str]
    Tty: bool = False
    AttachStdin: bool = False
    AttachStdout: bool = True
    AttachStderr: bool = True
    Env: list[str] = field(default_factory=list)
    WorkingDir: str = ""
    User: str = ""
    Privileged: bool = False
    DetachKeys: str = ""
    Running: bool = False
    ExitCode: int | None = None
    Pid: int = 0
    channel: int = 0
    started: bool = False

    def inspect(self) -> dict[str, Any]:
        return {
            "ID": self.ID, "Running": self.Running, "ExitCode": self.ExitCode,
            "ProcessConfig": {"tty": self.Tty, "entrypoint": self.Cmd[0],
                              "arguments": self.Cmd[1:], "privileged": self.Privileged,
                              "user": self.User},
            "OpenStdin": self.AttachStdin, "OpenStderr": self.AttachStderr,
            "OpenStdout": self.AttachStdout, "CanRemove": False,
            "ContainerID": self.ContainerID, "DetachKeys": self.DetachKeys, "Pid": self.Pid,
        }


class ExecMixin(EngineBase):
    def exec_create(self, ref: str, *, cmd: list[str], tty: bool = False,
                    stdin: bool = False, stdout: bool = True, stderr: bool = True,
                    env: list[str] | None = None, workdir: str = "", user: str = "",
                    privileged: bool = False, detach_keys: str = "") -> str:
        e = self.get(ref)
        st = e.record.State
        if not st.Running or e.shim is None:
            raise Conflict(f"container {e.record.Id} is not running")
        if st.Paused:
            raise Conflict(f"container {e.record.Id} is paused, unpause the container before exec")
        if not cmd:
            raise InvalidParameter("No exec command specified")
        if workdir and not workdir.startswith("/"):
            raise InvalidParameter(f"WorkingDir {workdir!r} is invalid: it needs to be an "
                                   "absolute path")
        for kv in env or []:
            if "=" not in kv or kv.startswith("="):
                raise InvalidParameter(f"invalid environment variable: {kv!r}")
        if detach_keys:
            from .attach import parse_detach_keys

            parse_detach_keys(detach_keys)  # a 400 now, not a broken session later
        xid = secrets.token_hex(32)
        self.exec_instances[xid] = ExecInstance(
            ID=xid, ContainerID=e.record.Id, Cmd=list(cmd), Tty=tty, AttachStdin=stdin,
            AttachStdout=stdout, AttachStderr=stderr, Env=list(env or []), WorkingDir=workdir,
            User=user, Privileged=privileged, DetachKeys=detach_keys)
        e.execs.add(xid)
        self.event(f"exec_create: {' '.join(cmd)}", e.record, execID=xid)
        return xid

    def exec_get(self, xid: str) -> ExecInstance:
        inst = self.exec_instances.get(xid)
        if inst is None:
            raise NotFound(f"No such exec instance: {xid}")
        return inst

    def exec_check(self, xid: str) -> ExecInstance:
        """What ``exec_start`` would refuse, checked without starting anything."""
        inst = self.exec_get(xid)
        if inst.started:
            raise Conflict(f"Error: Exec command {xid} has already run")
        e = self.get(inst.ContainerID)
        if e.shim is None or not e.record.State.Running:
            raise Conflict(f"container {e.record.Id} is not running")
        return inst

    async def exec_start(self, xid: str, *, h: int = 0, w: int = 0) -> tuple[ExecInstance, Stream]:
        inst = self.exec_check(xid)
        e = self.get(inst.ContainerID)
        assert e.shim is not None
        inst.started = True
        process = self._exec_process(e, inst)
        ch = e.next_ch
        e.next_ch += 1
        inst.channel = ch

        def exited(code: int) -> None:
            inst.ExitCode, inst.Running = code, False
            if inst.Pid:  # else exec_start below reports it, after its own event
                self.event("exec_die", e.record, execID=xid, exitCode=str(code))

        try:
            pid, stream = await e.shim.exec(ch, process, tty=inst.Tty, stdin=inst.AttachStdin,
                                            h=h, w=w, on_exit=exited)
        except RuntimeError as ex:
            inst.ExitCode = 126 if "permission denied" in str(ex).lower() else 127
            raise EngineError(f"OCI runtime exec failed: exec failed: {ex}: unknown") from None
        # A short process's exit can reach us (``exited`` above) before this
        # coroutine resumes from the exec-started reply: it is already done.
        inst.Pid, inst.Running = pid, inst.ExitCode is None
        self.event(f"exec_start: {' '.join(inst.Cmd)}", e.record, execID=xid)
        if inst.ExitCode is not None:
            self.event("exec_die", e.record, execID=xid, exitCode=str(inst.ExitCode))
        return inst, stream

    def _exec_process(self, e: Entry, inst: ExecInstance) -> dict[str, Any]:
        from .bundle import all_caps, resolve_user

        run_dir = self.run_dir(e.record.Id)
        with open(os.path.join(run_dir, "config.json")) as f:
            proc: dict[str, Any] = json.load(f)["process"]
        proc["args"] = inst.Cmd
        proc["terminal"] = inst.Tty
        env = {kv.split("=", 1)[0]: kv for kv in proc.get("env") or []}
        for kv in inst.Env:
            env[kv.split("=", 1)[0]] = kv
        if inst.Tty:
            env.setdefault("TERM", "TERM=xterm")
        proc["env"] = list(env.values())
        if inst.WorkingDir:
            proc["cwd"] = inst.WorkingDir
        if inst.User:
            uid, gid, extra = resolve_user(os.path.join(run_dir, "rootfs"), inst.User)
            proc["user"] = {"uid": uid, "gid": gid,
                            **({"additionalGids": extra} if extra else {})}
        if inst.Privileged:
            caps = all_caps()
            proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
        proc.pop("consoleSize", None)
        return proc

    def exec_resize(self, xid: str, h: int, w: int) -> None:
        inst = self.exec_get(xid)
        e = self.get(inst.ContainerID)
        if not inst.Running or e.shim is None:
            raise Conflict(f"exec {xid} is not running")
        e.shim.resize(inst.channel, h, w)

    def exec_detach_filter(self, inst: ExecInstance) -> DetachFilter:
        """What ends this exec's session on the client's input: its ``DetachKeys`` (or
        ctrl-p,ctrl-q) with a tty, nothing without one (as Docker's). The process goes on."""
        from .detachkeys import DEFAULT_DETACH_KEYS, parse_detach_keys

        if not inst.Tty:
            return DetachFilter(b"")
        return DetachFilter(parse_detach_keys(inst.DetachKeys) if inst.DetachKeys
                            else DEFAULT_DETACH_KEYS)

    def exec_stdin(self, inst: ExecInstance, data: bytes) -> None:
        e = self.containers.get(inst.ContainerID)
        if e is not None and e.shim is not None and inst.AttachStdin:
            e.shim.stdin(inst.channel, data)

    def exec_close_stdin(self, inst: ExecInstance) -> None:
        e = self.containers.get(inst.ContainerID)
        if e is not None and e.shim is not None and inst.AttachStdin:
            e.shim.close_stdin(inst.channel)
