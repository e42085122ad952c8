"""Health checks: the image's HEALTHCHECK or ``--health-*``, run as execs.

While a container with a check runs, one task per container sleeps
``Interval`` (``StartInterval`` during ``StartPeriod``), runs the probe
through the supervisor like ``docker exec`` (``CMD`` as is, ``CMD-SHELL``
under ``/bin/sh -c``), kills it after ``Timeout``, and records the result
in ``State.Health`` (Docker's shape: ``Status``, ``FailingStreak``, the
last five ``Log`` entries). ``Retries`` consecutive failures make the
container unhealthy; failures during the start period do not count until
a first success. Each change of status is a ``health_status: …`` event.

One difference from Docker, on by default (daemon.json
``"health-start-probes": false`` turns it off): Docker's first probe runs
one interval after the start, so a service that is ready in 50 ms is
``starting`` for the whole interval (30 s by default), and every
``depends_on: condition: service_healthy`` link waits that long. Before
that first scheduled probe, while the container is still ``starting``,
dockyard also probes at a ramp (``RAMP_FIRST`` after the start, then at
doubling gaps, never past the first scheduled probe): a ramp probe that
passes makes the container ``healthy`` (and is logged); one that fails is
dropped (not logged, not counted). So ``unhealthy`` comes exactly when
Docker would say it, and ``healthy`` as soon as the service answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Any

from .base import EngineBase, Entry
from .logfile import rfc3339nano
from .model import Health, HealthConfig, HealthLog

SECOND = 1_000_000_000
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "StartPeriod": 0,
            "StartInterval": 5 * SECOND, "Retries": 3}
MAX_LOG = 5
MAX_OUTPUT = 4096
RAMP_FIRST = 0.025  # seconds after the start: the ramp's first probe (module docstring)


def probe_args(test: list[str]) -> list[str] | None:
    """The argv of a check, or None for no check (``NONE``, empty)."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return test[1:] or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return None


def _get(hc: HealthConfig, name: str) -> int:
    v = getattr(hc, name)
    return int(v) if v else DEFAULTS[name]


class HealthMixin(EngineBase):
    def _health_start(self, e: Entry) -> None:
        hc = e.record.Config.Healthcheck
        if hc is None or probe_args(hc.Test or []) is None:
            e.record.State.Health = None
            return
        e.record.State.Health = Health(Status="starting")
        e.health_task = asyncio.get_running_loop().create_task(self._health_loop(e, hc))

    def _health_stop(self, e: Entry) -> None:
        task = e.health_task
        e.health_task = None
        if task is not None:
            task.cancel()

    async def _health_loop(self, e: Entry, hc: HealthConfig) -> None:
        started = time.monotonic()
        start_period = _get(hc, "StartPeriod") / SECOND
        if self.opts.health_start_probes:
            first = _get(hc, "StartInterval" if start_period > 0 else "Interval") / SECOND
            await self._health_ramp(e, hc, started + first)
        since = started  # each wait counts from the end of the previous probe
        while e.record.State.Running:
            in_start = since - started < start_period
            wait = _get(hc, "StartInterval" if in_start else "Interval") / SECOND
            await asyncio.sleep(max(0.0, since + wait - time.monotonic()))
            since = time.monotonic()
            if not e.record.State.Running:
                return
            if e.record.State.Paused:
                continue
            code, output, begin, end = await self._probe(e, hc)
            since = time.monotonic()
            self._record_health(e, hc, code, output, begin, end, in_start)

    async def _health_ramp(self, e: Entry, hc: HealthConfig, first_due: float) -> None:
        """Probe early, at doubling gaps, until one passes or the first
        scheduled probe is due (module docstring). Failures are dropped."""
        gap = RAMP_FIRST
        at = time.monotonic() + gap
        while at < first_due:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            h = e.record.State.Health
            if not e.record.State.Running or h is None or h.Status != "starting":
                return
            if not e.record.State.Paused:
                code, output, begin, end = await self._probe(e, hc)
                if code == 0:
                    self._record_health(e, hc, code, output, begin, end, True)
                    return
            gap *= 2
            at = time.monotonic() + gap

    async def _probe(self, e: Entry, hc: HealthConfig) -> tuple[int, str, str, str]:
        from .exec import ExecInstance

        begin = rfc3339nano(time.time_ns())
        args = probe_args(hc.Test or []) or ["true"]
        inst = ExecInstance(ID="health", ContainerID=e.record.Id, Cmd=args)
        shim = e.shim
        if shim is None:
            return -1, "container is not running", begin, begin
        ch = e.next_ch
        e.next_ch += 1
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def exited(code: int) -> None:
            if not done.done():
                done.set_result(code)

        try:
            pid, stream = await shim.exec(ch, self._exec_process(e, inst), tty=False,
                                          stdin=False, h=0, w=0, on_exit=exited)
        except RuntimeError as ex:
            return -1, str(ex), begin, rfc3339nano(time.time_ns())
        out = bytearray()

        async def collect() -> None:
            while (item := await stream.get()) is not None:
                if len(out) < MAX_OUTPUT:
                    out.extend(item[1][: MAX_OUTPUT - len(out)])

        reader = asyncio.ensure_future(collect())
        try:
            code = await asyncio.wait_for(asyncio.shield(done), _get(hc, "Timeout") / SECOND)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            out.extend(b"Health check exceeded timeout")
            code = -1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, 1)
        return code, out.decode(errors="replace"), begin, rfc3339nano(time.time_ns())

    def _record_health(self, e: Entry, hc: HealthConfig, code: int, output: str, begin: str,
                       end: str, in_start: bool) -> None:
        h = e.record.State.Health
        if h is None or not e.record.State.Running:
            return
        old = h.Status
        h.Log = [*(h.Log or []), HealthLog(Start=begin, End=end, ExitCode=code,
                                           Output=output)][-MAX_LOG:]
        if code == 0:
            h.Status, h.FailingStreak = "healthy", 0
        elif not (in_start and old == "starting"):
            h.FailingStreak += 1
            if h.FailingStreak >= _get(hc, "Retries"):
                h.Status = "unhealthy"
        if h.Status != old:
            self.event(f"health_status: {h.Status}", e.record)
        with contextlib.suppress(OSError):
            self.save(e.record)


def merge_image_health(config_hc: HealthConfig | None, image_hc: Any) -> HealthConfig | None:
    """Docker's rule: the container's fields win, the image fills the rest."""
    if image_hc is None:
        return config_hc
    base = HealthConfig(Test=image_hc.test, Interval=image_hc.interval,
                        Timeout=image_hc.timeout, StartPeriod=image_hc.start_period,
                        StartInterval=image_hc.start_interval, Retries=image_hc.retries)
    if config_hc is None:
        return base
    for name in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
        if not getattr(config_hc, name):
            setattr(config_hc, name, getattr(base, name))
    return config_hc
