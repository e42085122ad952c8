"""Compose benchmark: ``dockyard compose up -d`` / ``down`` on dockyard and on Docker's engine.

The same client (``dockyard compose``, which speaks only the Docker Engine
API) drives both engines, so the difference is the engines'. Both are
started here with private state under /tmp and stopped by their PIDs at the
end, whatever happens (``engine.DockerEngine``: ``dockerd --iptables=false
--bridge=none``; ``engine.DockyardEngine``: ``dockyard daemon --bridge
none``), each with ``busybox:latest`` from the same Debian busybox-static.

The project: five services ``s1`` … ``s5``, each ``depends_on`` the one
before with ``condition: service_healthy``, each with a healthcheck
``["CMD", "true"]`` (``--interval``, default 500ms) — so ``up`` creates,
starts and waits for health one service after the other — on the project's
own network (a user-defined bridge on both engines: the ``docker0``-less
dockerd makes those too). The services run ``sleep`` under a shell that
exits on SIGTERM, so ``down`` is not a grace-period wait.

Measured, interleaved (who goes first alternates every round): the wall time
of ``up -d`` (when it returns, s1 … s4 are healthy and s5 runs: checked,
untimed) and
of ``down`` (containers and network removed), medians and min–max, ratio
against Docker. Target (issue 9): ``up`` within half of Docker's time.

Also reported, from the engines' own timestamps: create → started per
container and the duration of each health probe (an exec), plus a timed
``docker exec … true``. ``--python-supervisor`` adds a contender, a
dockyard daemon with ``--supervisor python`` (the exec path differs);
``--docker-schedule`` one whose health probes keep Docker's schedule
(daemon.json ``"health-start-probes": false``; by default dockyard also
probes a starting container at a ramp before its first interval,
``engine/health.py``).

With ``--write-doc`` the section it replaces in docs/benchmarks.md is read
first and its ``up -d``/``down`` table is quoted under the new one as the
previous run (before/after, each with its own Docker reference: the ratios
compare, the absolute times depend on the machine's load then).

Usage (as root): ``.venv/bin/python bench/compose.py [--rounds 6]
[--interval 500ms] [--python-supervisor] [--docker-schedule] [--write-doc]``. Needs ``docker.io``
(Debian).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from dockyard.busybox import make_rootfs  # noqa: E402
from engine import DockerEngine, DockyardEngine, Engine  # noqa: E402
from images import remove_tree  # noqa: E402

DY = os.path.join(os.path.dirname(sys.executable), "dockyard")
BEGIN, END = benchdoc.markers("compose.py")
SERVICES = 5
PY = "dockyard, Python supervisor"
SCHED = "dockyard, Docker's probe schedule"
PHASES = ("create → started", "health probe", "docker exec true")


def project_yaml(interval: str) -> str:
    """Five services, a healthcheck chain: s(n) waits for s(n-1) to be healthy."""
    out = ["services:"]
    for i in range(1, SERVICES + 1):
        out += [f"  s{i}:",
                "    image: busybox",
                # sh as PID 1 exits on TERM at once (sleep alone would ignore it)
                "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]",
                "    healthcheck:",
                "      test: [\"CMD\", \"true\"]",
                f"      interval: {interval}",
                "      timeout: 10s",
                "      retries: 30"]
        if i > 1:
            out += ["    depends_on:", f"      s{i - 1}:", "        condition: service_healthy"]
    return "\n".join(out) + "\n"


class Bench:
    def __init__(self, engine: Engine, project_dir: str, host: str) -> None:
        self.engine = engine
        self.dir = project_dir
        self.env = {k: v for k, v in engine.env.items() if not k.startswith("COMPOSE_")}
        self.env["DOCKER_HOST"] = host

    def compose(self, *args: str) -> float:
        """Wall seconds of one ``dockyard compose`` call (which must succeed)."""
        t0 = time.perf_counter()
        p = subprocess.run([DY, "compose", "-p", "bench", *args], cwd=self.dir, env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
        took = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{self.engine.name}: compose {' '.join(args)}: exit "
                               f"{p.returncode}: {p.stderr.strip()[-600:]}")  # fmt: skip
        return took

    def check_up(self) -> None:
        out = self.engine.docker("ps", "--filter", "label=com.docker.compose.project=bench",
                                 "--format", "{{.Names}} {{.Status}}")  # fmt: skip
        rows = sorted(out.splitlines())
        # every service others wait on is healthy; the last one (nobody waits) runs
        healthy = [r for r in rows if "(healthy)" in r]
        if len(rows) != SERVICES or len(healthy) < SERVICES - 1 or \
                any(not r.split(" ", 1)[1].startswith("Up") for r in rows):
            raise RuntimeError(f"{self.engine.name}: after up, not all healthy: {rows}")

    def phases(self, into: dict[str, list[float]]) -> None:
        """From the engine's own timestamps (inspect): create → started of each
        container, and how long each health probe (an exec) took."""
        ids = self.engine.docker("ps", "-q", "--filter", "label=com.docker.compose.project=bench")
        for doc in json.loads(self.engine.docker("inspect", *ids.split())):
            into["create → started"].append(_ts(doc["State"]["StartedAt"]) - _ts(doc["Created"]))
            for probe in (doc["State"].get("Health") or {}).get("Log") or []:
                into["health probe"].append(_ts(probe["End"]) - _ts(probe["Start"]))

    def exec_true(self) -> float:
        t0 = time.perf_counter()
        self.engine.docker("exec", "bench-s5-1", "true")
        return time.perf_counter() - t0

    def check_down(self) -> None:
        left = self.engine.docker("ps", "-aq", "--filter", "label=com.docker.compose.project=bench")
        nets = self.engine.docker("network", "ls", "-q", "--filter",
                                  "label=com.docker.compose.project=bench")  # fmt: skip
        if left.strip() or nets.strip():
            raise RuntimeError(f"{self.engine.name}: after down: {left!r} {nets!r}")


def _ts(rfc3339: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds."""
    head, _, frac = rfc3339.rstrip("Z").partition(".")
    head = head.split("+")[0]
    return datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp() + \
        float("0." + (frac.split("+")[0] or "0")[:6])


def _seconds(duration: str) -> float:
    """A compose duration as the benchmark takes it: ``500ms``, ``1s``, ``0.5s``."""
    if duration.endswith("ms"):
        return float(duration[:-2]) / 1000
    return float(duration.rstrip("s"))


def previous_run(doc: str) -> tuple[str, list[str], list[str]]:
    """(when, command rows, phase table) of the section this benchmark wrote
    last (its own "previous run" block left out); ("", [], []) when there is none."""
    if BEGIN not in doc or END not in doc:
        return "", [], []
    old = doc.split(BEGIN, 1)[1].split(END, 1)[0].split("\nThe previous run of", 1)[0]
    lines = old.splitlines()
    rows = [ln for ln in lines if ln.startswith(("| `up -d`", "| `down`"))]
    phases: list[str] = []
    for i, ln in enumerate(lines):
        if ln.startswith("| phase |"):
            phases = [ln, *[x for x in lines[i + 1:] if x.startswith("|")][:1 + len(PHASES)]]
    when = ""
    for ln in lines:
        if "; run at " in ln:
            when = ln.split("; run at ", 1)[1].split(",", 1)[0]
            if "1-min load average " in ln:
                when += ", 1-min load average " + ln.split("1-min load average ", 1)[1] \
                    .split(")", 1)[0]
    return when, rows, phases


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def report(times: dict[str, dict[str, list[float]]], phases: dict[str, dict[str, list[float]]],
           notes: list[str], interval: str) -> str:
    lines = [f"Five services, each `depends_on` the previous with `condition: service_healthy`, "
             f"healthcheck `[\"CMD\", \"true\"]` every {interval}, on the project's network; "
             f"the same `dockyard compose` drives both engines. Wall time of each command, "
             f"median of {len(times['Docker']['up'])} interleaved rounds:", "",
             "| command | engine | median s | min–max s | ratio vs Docker |",
             "| --- | --- | ---: | ---: | ---: |"]
    for verb in ("up", "down"):
        ref = med(times["Docker"][verb])
        for name in times:
            xs = times[name][verb]
            lines.append(f"| `{verb}{' -d' if verb == 'up' else ''}` | {name} | {med(xs):.2f} | "
                         f"{min(xs):.2f}–{max(xs):.2f} | {med(xs) / ref:.2f}× |")
    lines += ["", "Where `up`'s time goes, from the engines' own timestamps (inspect: `Created`, "
                  "`State.StartedAt`, each `State.Health.Log` probe's `Start`/`End`), and a "
                  "`docker exec … true` after each `up` (the docker CLI; a probe is an exec), "
                  "median ms:", "",
              "| phase | " + " | ".join(phases) + " | dockyard / Docker |",
              "| --- |" + " ---: |" * (len(phases) + 1)]
    for k in PHASES:
        ms = {n: med(phases[n][k]) * 1000 for n in phases}
        lines.append(f"| {k} | " + " | ".join(f"{v:.0f}" for v in ms.values()) +
                     f" | {ms['dockyard'] / ms['Docker']:.2f}× |")
    ratio = med(times["dockyard"]["up"]) / med(times["Docker"]["up"])
    lines += ["", f"Target (issue 9): `up` within half of Docker's time: "
                  f"{'met' if ratio <= 0.5 else 'NOT met'} ({ratio:.2f}×).", ""]
    floor = (SERVICES - 1) * _seconds(interval)
    lines.append(f"- Docker's rule, a first probe one interval after the start, makes "
                 f"{SERVICES - 1} × {interval} = {floor:.1f} s of every `up` on Docker a wait. "
                 f"dockyard also probes a `starting` container at a ramp before that (25 ms "
                 f"after the start, then doubling gaps; a failure there is not counted, so "
                 f"`unhealthy` comes when Docker would say it): `engine/health.py`, on by "
                 f"default, daemon.json `\"health-start-probes\": false` keeps Docker's "
                 f"schedule.")
    if SCHED in times:
        sched = med(times[SCHED]["up"])
        lines.append(f"- With Docker's schedule (`{SCHED}`), dockyard's `up` takes "
                     f"{sched:.2f} s = {sched / med(times['Docker']['up']):.2f}× Docker's: "
                     f"the same {floor:.1f} s of waiting, and the rest is the engines' and the "
                     f"client's work ({sched - floor:.2f} s against "
                     f"{med(times['Docker']['up']) - floor:.2f} s).")
    if PY in phases:
        c, py = med(phases["dockyard"]["health probe"]), med(phases[PY]["health probe"])
        lines.append(f"- A probe is an exec: {c * 1000:.0f} ms with the default supervisor "
                     f"against {py * 1000:.0f} ms with `--supervisor python` "
                     f"({c / py:.1f}×); `up` {med(times['dockyard']['up']):.2f} s against "
                     f"{med(times[PY]['up']):.2f} s. The C supervisor runs each exec in a "
                     f"new interpreter (`engine/cshim_exec.py`, `python -IS`, no msgspec); "
                     f"the Python one forks itself.")
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def with_previous(body: str, when: str, rows: list[str], phases: list[str]) -> str:
    if not rows:
        return body
    out = ["", f"The previous run of this benchmark ({when or 'undated'}), as it was recorded "
               f"here:", "", "| command | engine | median s | min–max s | ratio vs Docker |",
           "| --- | --- | ---: | ---: | ---: |", *rows]
    if phases:
        out += ["", *phases]
    return body + "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=6, help="interleaved rounds of up -d + down")
    ap.add_argument("--interval", default="500ms",
                    help="the services' healthcheck interval (compose duration, ≤ 1s)")
    ap.add_argument("--python-supervisor", action="store_true",
                    help=f"also measure a dockyard daemon with --supervisor python ({PY!r})")
    ap.add_argument("--docker-schedule", action="store_true",
                    help=f"also measure a dockyard daemon that keeps Docker's health probe "
                         f"schedule (daemon.json health-start-probes false: {SCHED!r})")
    ap.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the notes under the tables (what changed since the "
                         "previous run); repeatable")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/compose.py needs root (both engines run real containers)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    import compileall

    import dockyard

    # With PYTHONDONTWRITEBYTECODE set, every CLI call would compile every module anew.
    compileall.compile_dir(os.path.dirname(dockyard.__file__), quiet=1)
    started = time.time()
    load_before = os.getloadavg()[0]
    engines: dict[str, Engine] = {}
    work = tempfile.mkdtemp(prefix="dybc-", dir="/tmp")
    times: dict[str, dict[str, list[float]]] = {}
    phases: dict[str, dict[str, list[float]]] = {}
    notes: list[str] = list(args.note)
    try:
        rootfs = make_rootfs(os.path.join(work, "rootfs"))
        tar = os.path.join(work, "busybox.tar")
        subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
        project = os.path.join(work, "project")
        os.mkdir(project)
        with open(os.path.join(project, "compose.yaml"), "w") as f:
            f.write(project_yaml(args.interval))
        ours = DockyardEngine()
        engines["dockyard"] = ours
        ours.start()
        if args.python_supervisor:
            py = DockyardEngine()
            py.name = PY
            py.args = [*py.args, "--supervisor", "python"]
            engines[PY] = py
            py.start()
        if args.docker_schedule:
            ds = DockyardEngine()
            ds.name = SCHED
            conf = os.path.join(ds.dir, "daemon.json")
            with open(conf, "w") as f:
                json.dump({"health-start-probes": False}, f)
            ds.args = [*ds.args, "--config-file", conf]
            engines[SCHED] = ds
            ds.start()
        dk = DockerEngine()
        engines["Docker"] = dk
        dk.start(tar)
        benches = {name: Bench(e, project, f"unix://{dk.d.sock}" if e is dk else e.host)
                   for name, e in engines.items()}
        times = {n: {"up": [], "down": []} for n in benches}
        phases = {n: {k: [] for k in PHASES} for n in benches}
        for b in benches.values():  # warm-up, untimed: first-use costs on both sides
            b.compose("up", "-d")
            b.compose("down")
        for rnd in range(args.rounds):
            order = list(benches) if rnd % 2 == 0 else list(reversed(benches))
            for name in order:
                b = benches[name]
                times[name]["up"].append(b.compose("up", "-d"))
                b.check_up()
                b.phases(phases[name])
                phases[name]["docker exec true"].append(b.exec_true())
                times[name]["down"].append(b.compose("down"))
                b.check_down()
                print(f"round {rnd + 1} {name}: up {times[name]['up'][-1]:.2f} s, "
                      f"down {times[name]['down'][-1]:.2f} s", flush=True)
        notes.append(f"Docker {dk.d.version}; both engines private (state under /tmp), "
                     f"started and stopped by this run, no docker0 / default bridge on either")
    finally:
        for e in engines.values():
            e.stop()
        remove_tree(work)
    notes.append(
        f"Machine: {os.cpu_count()} cores, kernel {platform.release()}, shared with other work "
        f"(1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after); run at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
        f"{time.time() - started:.0f} s in all")
    body = report(times, phases, notes, args.interval)
    print(body)
    if args.write_doc:
        when, rows, phase_rows = previous_run(
            open(benchdoc.DOC).read() if os.path.exists(benchdoc.DOC) else "")
        body = with_previous(body, when, rows, phase_rows)
        shown = [a for a in sys.argv[1:] if a not in args.note and a != "--note"]  # notes: below
        command = shlex.join([".venv/bin/python", "bench/compose.py", *shown])
        command += f"` with {len(args.note)} `--note` (in the notes below)" if args.note else "`"
        benchdoc.write_section(BEGIN, END, f"{BEGIN}\n## Compose: `up -d` and `down` of a "
                               f"five-service healthcheck chain, dockyard against Docker 20.10\n\n"
                               f"Command: `{command}.\n\n{body}{END}\n")


if __name__ == "__main__":
    main()
