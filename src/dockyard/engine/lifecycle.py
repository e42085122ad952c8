"""start, stop, kill, restart, pause, unpause, wait; exits and live restore.

``start`` mounts the container's snapshot on the bundle's rootfs, writes
config.json and asks the zygote for a supervisor, which creates and starts
the container and reports ``started`` (or the runtime's error). Output
subscribers (attach) registered before ``start`` see everything from the
first byte, because the daemon holds the supervisor connection from the
moment it exists.

An exit arrives as an event on that connection, or, if the daemon was down
at the time, as ``exit.json`` found at the next ``load``. Either way
``_settle`` records it, deletes the runtime's state, unmounts the rootfs,
wakes waiters, and then applies ``--rm`` or the restart policy (Docker's
backoff: 100 ms doubling, reset after 10 s of running).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from typing import TYPE_CHECKING, Any

from .base import EngineBase
from .errors import Conflict, EngineError, InvalidParameter, NotFound, NotModified
from .logfile import rfc3339nano
from .shim import Shim
from .supervisor import EXIT_FILE, SOCKET

if TYPE_CHECKING:
    from .base import Entry

ZERO_TIME = "0001-01-01T00:00:00Z"
WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


def parse_signal(sig: str | int | None, default: int = signal.SIGKILL) -> int:
    """``KILL``, ``SIGKILL`` or ``9``; InvalidParameter otherwise."""
    if sig is None or sig == "":
        return default
    if isinstance(sig, int) or str(sig).isdigit():
        n = int(sig)
        if not 0 < n < 65:
            raise InvalidParameter(f"Invalid signal: {sig}")
        return n
    name = str(sig).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidParameter(f"Invalid signal: {sig}") from None


class LifecycleMixin(EngineBase):
    # --- start --------------------------------------------------------------

    async def start(self, ref: str, *, h: int = 0, w: int = 0) -> None:
        """``POST /containers/{id}/start``."""
        e = self.get(ref)
        async with e.lock:
            st = e.record.State
            if st.Paused:
                raise Conflict("cannot start a paused container, try unpause instead")
            if st.Running:
                raise NotModified("container already started")
            e.stopping = False
            e.record.ManuallyStopped = False
            await self._spawn(e, h, w)

    async def _spawn(self, e: Entry, h: int = 0, w: int = 0) -> None:
        from .bundle import build, cannot_invoke

        rec = e.record
        run_dir = self.run_dir(rec.Id)
        rootfs = os.path.join(run_dir, "rootfs")
        seccomp = None
        if self.opts.seccomp:
            from dockyard.runtime import seccomp as sc

            seccomp = getattr(sc, "default_profile", None)
        profile_key = ""

        def prepare() -> str:
            from dockyard.snapshot import mount_all, unmount_all
            from dockyard.snapshot.mount import is_mountpoint

            os.makedirs(rootfs, exist_ok=True)
            if is_mountpoint(rootfs):
                unmount_all(rootfs)
            for stale in (EXIT_FILE, SOCKET):
                try:
                    os.unlink(os.path.join(run_dir, stale))
                except FileNotFoundError:
                    pass
            mount_all(self.images.snapshotter.mounts(rec.SnapshotKey), rootfs)
            try:
                spec = build(rec, [], rootfs=rootfs, files_dir=self.container_dir(rec.Id),
                             pid_of=self.pid_of, seccomp=seccomp, init_cache=self.init_cache)
                if rec.MountPoints and self.volumes is not None:
                    import msgspec

                    from dockyard.volume import VolumeError
                    from dockyard.volume.container import setup

                    try:
                        extra = setup(self.volumes, rec.Id, rec.MountPoints, rootfs)
                    except VolumeError as ex:
                        raise EngineError(f"error while mounting volumes: {ex}") from None
                    spec["mounts"] += [msgspec.to_builtins(m) for m in extra]
                with open(os.path.join(run_dir, "config.json"), "w") as f:
                    json.dump(spec, f)
                # Only profiles the daemon made (Docker's default for these
                # capabilities): a profile a user passes is compiled in its
                # own container's helper, where a bad one harms nothing else.
                own = not any(s.startswith(("seccomp=", "seccomp:"))
                              for s in rec.HostConfig.SecurityOpt or [])
                if own and spec.get("linux", {}).get("seccomp"):
                    import hashlib

                    nonlocal profile_key
                    profile_key = hashlib.sha256(
                        json.dumps(spec["linux"]["seccomp"]).encode()).hexdigest()
                return cannot_invoke(rootfs, rec.Path, spec["mounts"])
            except BaseException:
                self._teardown_volumes(rec)
                unmount_all(rootfs)
                raise

        denied = await asyncio.to_thread(prepare)
        if denied:
            await self._start_failed(e, denied)
        lc = rec.HostConfig.LogConfig
        opts = lc.Config or {}
        from .logfile import parse_size

        log: dict[str, Any] = {
            "driver": lc.Type or "json-file", "path": rec.LogPath,
            "max_size": parse_size(opts.get("max-size", str(self.opts.log_max_size))),
            "max_file": int(opts.get("max-file", self.opts.log_max_file))}
        if lc.Type == "local":
            from . import locallog

            log.update(path=locallog.path_for(self.container_dir(rec.Id)),
                       max_size=parse_size(opts.get("max-size", str(locallog.DEFAULT_MAX_SIZE))),
                       max_file=int(opts.get("max-file", locallog.DEFAULT_MAX_FILE)),
                       compress=opts.get("compress", "true") == "true")
        spec = {"id": rec.Id, "runtime_root": self.runtime.root, "bundle": run_dir,
                "run_dir": run_dir, "log": log, "tty": rec.Config.Tty,
                "open_stdin": rec.Config.OpenStdin, "h": h, "w": w}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if profile_key and not self.zygote.is_warm(profile_key):  # compiled once, there
                await asyncio.to_thread(self.zygote.warm, run_dir, profile_key,
                                        self.runtime.root)
            await asyncio.to_thread(self.zygote.spawn, spec, theirs.fileno())
        except OSError as ex:
            ours.close()
            await asyncio.to_thread(self._unmount, rec.Id)
            raise EngineError(f"cannot start a supervisor: {ex}") from None
        finally:
            theirs.close()
        shim = Shim(ours, lambda msg: self._exited(e, shim, msg))
        shim.subscribers |= e.pending
        e.pending.clear()
        await shim.open()
        e.shim = shim
        # From here attach sessions write stdin straight to the shim
        # (attach.py): what they buffered before goes first, in this same
        # step, or later input would overtake it (and an early EOF cut it
        # off). The supervisor reads it once the init's stdio exists.
        if e.stdin_buf:
            shim.stdin(0, bytes(e.stdin_buf))
            e.stdin_buf.clear()
        if e.stdin_eof:
            shim.close_stdin(0)
            e.stdin_eof = False
        e.exited.clear()
        first = await self._await_event(shim, shim.first)
        if first.get("event") == "created":
            try:
                await asyncio.to_thread(self._net_setup, rec, int(first["pid"]))
            except EngineError as ex:
                shim.abort()
                await self._await_event(shim, shim.started)
                await self._start_failed(e, str(ex))
            shim.start()
            first = await self._await_event(shim, shim.started)
        if first.get("event") != "started":
            await self._start_failed(e, first.get("message", "unknown error"))
        st = rec.State
        st.Running, st.Paused, st.Restarting, st.Dead = True, False, False, False
        st.Status, st.Pid, st.ExitCode, st.Error = "running", int(first["pid"]), 0, ""
        st.StartedAt = rfc3339nano(time.time_ns())
        st.FinishedAt = ZERO_TIME
        self._health_start(e)
        await asyncio.to_thread(self.save, rec)
        self.event("start", rec)

    async def _await_event(self, shim: Shim, fut: asyncio.Future[dict[str, Any]]
                           ) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(asyncio.shield(fut), 120)
        except TimeoutError:
            shim.close()
            return {"event": "error", "message": "the supervisor did not report within 120s"}

    async def _start_failed(self, e: Entry, message: str) -> None:
        """Docker's handling: the error and 127/126 in State, waiters and
        attached clients released, ``--rm`` honoured; then raise."""
        rec = e.record
        e.shim = None

        def cleanup() -> None:
            self._net_teardown(rec)
            self._teardown_volumes(rec)
            self._unmount(rec.Id)

        await asyncio.to_thread(cleanup)
        low = message.lower()
        code = 127 if ("not found" in low or "no such file" in low) else (
            126 if "permission denied" in low or "cannot execute" in low else 128)
        rec.State.Error, rec.State.ExitCode = message, code
        e.exited.set()
        for fut in e.waiters:
            if not fut.done():
                fut.set_result(code)
        e.waiters.clear()
        for s in e.pending:
            s.queue.put_nowait(None)
        e.pending.clear()
        if rec.HostConfig.AutoRemove:
            await self._drop(e, anonymous_volumes=True)
        else:
            await asyncio.to_thread(self.save, rec)
        raise EngineError("failed to create task for container: OCI runtime create failed: "
                          f"unable to start container process: {message}: unknown")

    def _teardown_volumes(self, rec: Any) -> None:
        if rec.MountPoints and self.volumes is not None:
            from dockyard.volume.container import teardown

            try:
                teardown(self.volumes, rec.Id)
            except Exception:
                pass

    def _unmount(self, cid: str) -> None:
        from dockyard.snapshot import unmount_all
        from dockyard.snapshot.mount import is_mountpoint

        rootfs = os.path.join(self.run_dir(cid), "rootfs")
        if os.path.isdir(rootfs) and is_mountpoint(rootfs):
            unmount_all(rootfs)

    # --- exits ----------------------------------------------------------------

    def _exited(self, e: Entry, shim: Shim, msg: dict[str, Any]) -> None:
        if getattr(self, "closing", False) or e.shim is not shim:
            return
        asyncio.get_running_loop().create_task(self._settle(e, msg))

    async def _settle(self, e: Entry, msg: dict[str, Any]) -> None:
        rec = e.record
        if "ExitCode" not in msg:
            try:
                with open(os.path.join(self.run_dir(rec.Id), EXIT_FILE)) as f:
                    msg = json.load(f)
            except (OSError, ValueError):
                # The supervisor died without a word (killed): the container
                # died with its pid namespace or is unreachable; Docker's 255.
                msg = {"ExitCode": 255, "FinishedAt": rfc3339nano(time.time_ns())}
        e.shim = None
        self._health_stop(e)

        def cleanup() -> None:
            try:
                self.runtime.delete(rec.Id, force=True)
            except Exception:
                pass
            self._net_teardown(rec)
            self._teardown_volumes(rec)
            self._unmount(rec.Id)

        await asyncio.to_thread(cleanup)
        st = rec.State
        st.Running = st.Paused = False
        st.Status, st.Pid = "exited", 0
        st.ExitCode = int(msg["ExitCode"])
        st.FinishedAt = msg.get("FinishedAt") or rfc3339nano(time.time_ns())
        if rec.Id not in self.containers:
            return
        await asyncio.to_thread(self.save, rec)
        self.event("die", rec, exitCode=str(st.ExitCode))
        e.exited.set()
        for fut in e.waiters:
            if not fut.done():
                fut.set_result(st.ExitCode)
        e.waiters.clear()
        if rec.HostConfig.AutoRemove:
            async with e.lock:
                if rec.Id in self.containers:
                    await self._drop(e, anonymous_volumes=True)  # --rm takes them too
            return
        if self._should_restart(e):
            asyncio.get_running_loop().create_task(self._restart_later(e))

    def _should_restart(self, e: Entry) -> bool:
        rp = e.record.HostConfig.RestartPolicy
        if e.stopping or rp.Name in ("", "no"):
            return False
        if rp.Name == "on-failure":
            return e.record.State.ExitCode != 0 and (
                not rp.MaximumRetryCount or e.record.RestartCount < rp.MaximumRetryCount)
        return True

    async def _restart_later(self, e: Entry) -> None:
        rec = e.record
        ran = _since(rec.State.StartedAt)
        delay = 0.0 if ran > 10 else min(0.1 * 2 ** min(rec.RestartCount, 12), 60.0)
        rec.State.Restarting, rec.State.Status = True, "restarting"
        await asyncio.sleep(delay)
        async with e.lock:
            if rec.Id not in self.containers or e.stopping or rec.State.Running:
                rec.State.Restarting = False
                return
            rec.RestartCount += 1
            try:
                await self._spawn(e)
            except EngineError:
                rec.State.Restarting, rec.State.Status = False, "exited"

    # --- live restore -----------------------------------------------------------

    async def _start_on_boot(self, e: Entry) -> None:
        """At daemon start: ``always``, and ``unless-stopped`` unless stopped by hand."""
        rp = e.record.HostConfig.RestartPolicy.Name
        if rp == "always" or (rp == "unless-stopped" and not e.record.ManuallyStopped):
            async with e.lock:
                if not e.record.State.Running:
                    try:
                        await self._spawn(e)
                    except EngineError:
                        pass

    async def _restore(self, e: Entry) -> None:
        rec = e.record
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(os.path.join(self.run_dir(rec.Id), SOCKET))
        except OSError:
            sock.close()
            await self._settle(e, {})
            return
        shim = Shim(sock, lambda msg: self._exited(e, shim, msg))
        e.shim = shim
        e.exited.clear()
        await shim.open()
        try:
            await asyncio.wait_for(asyncio.shield(shim.first), 5)
        except TimeoutError:
            pass
        if e.record.State.Running and e.record.Config.Healthcheck is not None:
            health = e.record.State.Health
            self._health_start(e)
            if health is not None:
                e.record.State.Health = health  # keep the history across the restart

    # --- stop, kill, restart, pause -----------------------------------------------

    async def kill(self, ref: str, sig: str | int | None = None) -> None:
        e = self.get(ref)
        signum = parse_signal(sig)
        if not e.record.State.Running:
            raise Conflict(f"Cannot kill container: {ref}: Container {e.record.Id} is not running")
        if signum == signal.SIGKILL:
            e.stopping = True
            e.record.ManuallyStopped = True
        await asyncio.to_thread(self._signal, e, signum)
        self.event("kill", e.record, signal=str(signum))

    def _signal(self, e: Entry, signum: int) -> None:
        from dockyard.runtime.errors import InvalidState

        try:
            self.runtime.kill(e.record.Id, signum)
        except InvalidState:
            pass  # its init has just exited: the supervisor's exit report is on its way
        except Exception as ex:
            if e.record.State.Running and e.shim is not None and not e.shim.closed:
                raise EngineError(f"cannot signal the container: {ex}") from None
        if signum == signal.SIGKILL and e.record.State.Paused:
            try:
                self.runtime.resume(e.record.Id)  # frozen tasks die only when thawed
            except Exception:
                pass

    async def stop(self, ref: str, timeout: int | None = None,
                   sig: str | None = None) -> None:
        e = self.get(ref)
        if not e.record.State.Running:
            raise NotModified("container already stopped")
        e.stopping = True
        e.record.ManuallyStopped = True
        cfg = e.record.Config
        signum = parse_signal(sig or cfg.StopSignal, default=signal.SIGTERM)
        t = timeout if timeout is not None else (cfg.StopTimeout if cfg.StopTimeout is not None
                                                 else 10)
        if t != 0:
            await asyncio.to_thread(self._signal, e, signum)
            if e.record.State.Paused:
                await asyncio.to_thread(self._resume_quiet, e)
            try:
                await asyncio.wait_for(e.exited.wait(), None if t < 0 else t)
                self.event("stop", e.record)
                return
            except TimeoutError:
                pass
        await self._kill_and_wait(e)
        self.event("stop", e.record)

    def _resume_quiet(self, e: Entry) -> None:
        try:
            self.runtime.resume(e.record.Id)
            e.record.State.Paused = False
        except Exception:
            pass

    async def _kill_and_wait(self, e: Entry) -> None:
        e.stopping = True
        if e.record.State.Running:
            await asyncio.to_thread(self._signal, e, signal.SIGKILL)
            self.event("kill", e.record, signal=str(int(signal.SIGKILL)))
        try:
            await asyncio.wait_for(e.exited.wait(), 15)
        except TimeoutError:
            raise EngineError(f"container {e.record.Id[:12]} did not exit after SIGKILL") from None

    async def restart(self, ref: str, timeout: int | None = None,
                      sig: str | None = None) -> None:
        e = self.get(ref)
        if e.record.State.Running:
            await self.stop(ref, timeout, sig)
        async with e.lock:
            e.stopping = False
            if not e.record.State.Running:
                await self._spawn(e)
        self.event("restart", e.record)

    async def pause(self, ref: str) -> None:
        e = self.get(ref)
        st = e.record.State
        if not st.Running:
            raise Conflict(f"Container {e.record.Id} is not running")
        if st.Paused:
            raise Conflict(f"Container {e.record.Id} is already paused")
        await asyncio.to_thread(self.runtime.pause, e.record.Id)
        st.Paused, st.Status = True, "paused"
        await asyncio.to_thread(self.save, e.record)
        self.event("pause", e.record)

    async def unpause(self, ref: str) -> None:
        e = self.get(ref)
        st = e.record.State
        if not st.Paused:
            raise Conflict(f"Container {e.record.Id} is not paused")
        await asyncio.to_thread(self.runtime.resume, e.record.Id)
        st.Paused, st.Status = False, "running"
        await asyncio.to_thread(self.save, e.record)
        self.event("unpause", e.record)

    # --- wait ---------------------------------------------------------------

    async def wait(self, ref: str, condition: str = "not-running") -> int:
        """Docker's wait: the exit code once ``condition`` holds."""
        condition = condition or "not-running"
        if condition not in WAIT_CONDITIONS:
            raise InvalidParameter(f"invalid condition: {condition!r} (expected one of: "
                                   f"{', '.join(WAIT_CONDITIONS)})")
        try:
            e = self.get(ref)
        except NotFound:
            tomb = self.tombstones.get(ref) or next(
                (v for k, v in self.tombstones.items() if k.startswith(ref) and ref), None)
            if tomb is not None and condition == "removed":
                return tomb[1]
            raise
        if condition == "removed":
            await e.removed.wait()
            return e.record.State.ExitCode
        if condition == "not-running" and not e.record.State.Running and not e.record.State.Restarting:
            return e.record.State.ExitCode
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        e.waiters.append(fut)
        return await fut


def _since(ts: str) -> float:
    from .logfile import parse_rfc3339nano

    try:
        return time.time() - parse_rfc3339nano(ts) / 1e9
    except ValueError:
        return 0.0

