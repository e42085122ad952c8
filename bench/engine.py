"""Engine benchmark: ``dockyard daemon`` against Docker 20.10's ``dockerd``, in one run.

Both engines are started here with private state under /tmp and stopped
by their PIDs at the end, whatever happens (dockerd by ``images.Dockerd``:
``--iptables=false --bridge=none``; dockyard by ``dockyard daemon --root
--run-root -H unix://… --bridge none``, the same parity), each with
``busybox:latest`` made from the same Debian busybox-static rootfs.
Containers run with ``--network none`` on both, so no bridge work is timed.

Measured, interleaved (who goes first alternates every round):

- ``run --rm busybox true``: the real ``docker`` CLI against each engine,
  and ``dockyard run --rm`` (our CLI, a Python process) against ours;
- 20 × (``docker create`` + ``docker start``) one after another, and all
  at once (20 threads), in containers/s, through the docker CLI; the
  containers run ``sleep`` and are removed (untimed) after each batch;
- ``docker ps`` wall time with 100 running containers;
- memory, from /proc/PID/status (RSS) and /proc/PID/smaps_rollup (PSS):
  the daemon idle and with 50 running (dockyard: the daemon plus its
  zygote; Docker: dockerd plus its containerd), and per running container
  the PSS of its supervisor (dockyard's per-container supervisor; Docker's
  ``containerd-shim-runc-v2``).

Targets are issue 4's, each printed met / not met. ``--write-doc`` puts
the tables, the command and the machine's load in docs/benchmarks.md
(only this benchmark's marked section).

Usage (as root): ``.venv/bin/python bench/engine.py [--rounds 8] [--batches 3]
[--write-doc]``. Docker needs ``apt-get install -y docker.io`` (benchmark
only; the project does not depend on it).
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import re
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from dockyard.busybox import make_rootfs  # noqa: E402
from images import Dockerd, remove_tree  # noqa: E402  (bench/ is not a package)

REPO = os.path.dirname(HERE)
DOC = os.path.join(REPO, "docs", "benchmarks.md")
DY = os.path.join(os.path.dirname(sys.executable), "dockyard")
DOCKER = "docker"
BEGIN, END = "<!-- bench/engine.py: begin -->", "<!-- bench/engine.py: end -->"
MIB = 1 << 20
SLEEP = ["sleep", "3600"]


# --- the two engines ------------------------------------------------------------------


class Engine:
    """What the benchmark needs of an engine: a docker CLI environment, its
    daemon's processes and its supervisors."""

    name = ""
    env: dict[str, str]
    # How containers are networked: "none" on both for parity; the bridged
    # dockyard daemon's containers join its default bridge.
    net: list[str] = ["--network", "none"]

    def docker(self, *args: str, timeout: float = 120) -> str:
        p = subprocess.run([DOCKER, *args], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)  # fmt: skip
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: docker {' '.join(args)}: exit {p.returncode}: "
                               f"{p.stderr.strip()[-400:]}")  # fmt: skip
        return p.stdout

    def daemon_pids(self) -> list[int]:
        raise NotImplementedError

    def supervisor_pids(self) -> list[int]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def remove_all(self) -> None:
        ids = self.docker("ps", "-aq").split()
        for i in range(0, len(ids), 25):
            self.docker("rm", "-f", *ids[i:i + 25])


class DockerEngine(Engine):
    name = "Docker"

    def __init__(self) -> None:
        self.d = Dockerd()
        self.env = self.d.env

    def start(self, rootfs_tar: str) -> None:
        self.d.start()
        self.docker("import", "-c", 'CMD ["sh"]', rootfs_tar, "busybox:latest")

    def stop(self) -> None:
        self.d.stop()

    def daemon_pids(self) -> list[int]:
        assert self.d.proc is not None
        pids = [self.d.proc.pid]
        try:
            with open(os.path.join(self.d.exec_root, "containerd", "containerd.pid")) as f:
                pids.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
        return pids

    def supervisor_pids(self) -> list[int]:
        # Each shim's command line names its containerd's socket, under our dir.
        return [pid for pid, cmd in processes() if b"containerd-shim" in cmd.split(b"\0")[0]
                and self.d.dir.encode() in cmd]


class DockyardEngine(Engine):
    name = "dockyard"

    def __init__(self, bridge: str | None = None) -> None:
        self.bridge = bridge
        if bridge:
            self.args = ["--bridge", bridge, "--bip", free_subnet()]
            self.net = []
        else:
            self.args = ["--bridge", "none"]
        self.dir = tempfile.mkdtemp(prefix="dybe-", dir="/tmp")  # socket path < 107 bytes
        self.root = os.path.join(self.dir, "root")
        self.run_root = os.path.join(self.dir, "run")
        self.sock = os.path.join(self.dir, "d.sock")
        self.host = "unix://" + self.sock
        self.env = dict(os.environ, DOCKER_HOST=self.host, DOCKER_CONFIG=os.path.join(self.dir, "cli"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = os.path.join(self.dir, "daemon.log")

    def start(self) -> None:
        from dockyard.images import ImageService, busybox_image

        images = ImageService.open(self.root)
        try:
            busybox_image(images)
        finally:
            images.close()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [DY, "daemon", "--root", self.root, "--run-root", self.run_root, "-H", self.host,
                 *self.args], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockyard daemon exited {self.proc.returncode}: {self._tail()}")
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=self.sock)) as c:
                    if c.get("http://d/_ping").text == "OK":
                        return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"dockyard daemon did not answer: {self._tail()}")

    def _tail(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-600:]
        except OSError:
            return "(no log)"

    def dockyard(self, *args: str) -> str:
        p = subprocess.run([DY, *args], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        if p.returncode != 0:
            raise RuntimeError(f"dockyard {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
        return p.stdout

    def daemon_pids(self) -> list[int]:
        # The daemon and its zygote (the fork server it starts first thing:
        # part of the daemon's cost, not a container's).
        assert self.proc is not None
        return [self.proc.pid, *children(self.proc.pid)]

    def supervisor_pids(self) -> list[int]:
        pids = []
        for path in glob.glob(os.path.join(self.run_root, "c", "*", "supervisor.pid")):
            try:
                with open(path) as f:
                    pid = int(f.read().split()[0])  # "<supervisor pid> <init pid>"
            except (OSError, ValueError, IndexError):
                continue
            if os.path.exists(f"/proc/{pid}"):
                pids.append(pid)
        return pids

    def stop(self) -> None:
        """Stop the daemon by its PID; end any supervisor of ours it left (found
        by the private dir in their command lines); unmount and remove the dir."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        run = os.path.join(self.run_root, "runtime")
        if os.path.isdir(run):
            for cid in os.listdir(run):
                subprocess.run([DY + "-runtime", "--root", run, "delete", "--force", cid],
                               capture_output=True, timeout=30)  # fmt: skip
        for pid, cmd in processes():
            if f"--root\0{self.root}\0".encode() in cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.bridge:
            # The daemon leaves its bridge and nftables table behind (as dockerd
            # leaves docker0): this run made them, this run removes them.
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
            for line in tables.splitlines():  # "table <family> <name>"
                parts = line.split()
                if len(parts) == 3 and parts[2] == "dy_" + self.bridge:
                    subprocess.run(["nft", "delete", "table", parts[1], parts[2]], capture_output=True)
        remove_tree(self.dir)


def free_subnet() -> str:
    """A /24 in 10.213.0.0/16 that no route on this host covers (other work
    on the machine has bridges of its own)."""
    import ipaddress
    import json

    routes = json.loads(subprocess.run(["ip", "-j", "route"], capture_output=True, text=True).stdout)
    used = [ipaddress.ip_network(r["dst"], strict=False) for r in routes if r.get("dst", "default") != "default"]
    for i in range(1, 255):
        net = ipaddress.ip_network(f"10.213.{i}.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise RuntimeError("no free /24 in 10.213.0.0/16 for the bridged daemon")


# --- /proc ----------------------------------------------------------------------------


def processes() -> list[tuple[int, bytes]]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                out.append((int(name), f.read()))
        except OSError:
            continue
    return out


def children(ppid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                # The comm field may hold spaces; ppid is the 2nd field after ')'.
                if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def kib_field(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss(pids: list[int]) -> float:
    return sum(kib_field(f"/proc/{p}/status", "VmRSS") for p in pids) * 1024 / MIB


def pss(pids: list[int], key: str = "Pss") -> float:
    return sum(kib_field(f"/proc/{p}/smaps_rollup", key) for p in pids) * 1024 / MIB


def distinct_rss(pids: list[int]) -> float:
    """The resident pages of ``pids`` together, each physical page once: what a
    sum of RSS would be if pages two of them map (a fork's copy-on-write pages,
    a library's) were not counted twice. From /proc/PID/pagemap's frame numbers
    (root only); 0 when they cannot be read."""
    frames: set[int] = set()
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
                for line in maps:
                    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                    if line.rstrip().endswith("[vsyscall]"):
                        continue
                    pm.seek(lo // page * 8)
                    data = pm.read((hi - lo) // page * 8)
                    for (entry,) in struct.iter_unpack("Q", data):
                        if entry >> 63:  # present
                            frames.add(entry & ((1 << 55) - 1))
        except OSError:
            return 0.0
    if frames == {0}:
        return 0.0  # frame numbers hidden (not root): unknown
    return len(frames) * page / MIB


# --- measurements ---------------------------------------------------------------------


@dataclass
class Results:
    series: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, who: str, value: float) -> None:
        self.series.setdefault((what, who), []).append(value)

    def get(self, what: str, who: str) -> list[float]:
        return self.series.get((what, who), [])


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def create_start(e: Engine, tag: str, i: int) -> str:
    cid = e.docker("create", *e.net, "--name", f"{tag}-{i}", "busybox", *SLEEP).strip()
    e.docker("start", cid)
    return cid


def batch(e: Engine, tag: str, n: int, parallel: bool) -> float:
    """n × (create + start) through the docker CLI; containers/s."""
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            create_start(e, tag, i)
        except BaseException as exc:  # reported after the batch
            errors.append(exc)

    t = time.perf_counter()
    if parallel:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    else:
        for i in range(n):
            one(i)
    elapsed = time.perf_counter() - t
    e.remove_all()
    if errors:
        raise RuntimeError(f"{len(errors)} of {n} create+start failed: {errors[0]}")
    return n / elapsed


def fill(e: Engine, tag: str, start: int, n: int, workers: int = 8) -> None:
    """Start containers ``start..start+n-1`` (untimed), ``workers`` at a time."""
    todo = list(range(start, start + n))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        while True:
            with lock:
                if not todo or errors:
                    return
                i = todo.pop()
            try:
                create_start(e, tag, i)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"starting {n} containers: {errors[0]}")


def settle() -> None:
    # Let the previous step's exits, removals and log writes finish before
    # the next engine is timed or its memory read.
    time.sleep(1.0)


def run_all(engines: dict[str, Engine], args: argparse.Namespace, r: Results) -> None:
    """Each stage on its own: one that fails is noted and the others still run."""
    for stage in (stage_idle, stage_run_rm, stage_batches, stage_memory_and_ps):
        try:
            stage(engines, args, r)
        except Exception as exc:
            r.notes.append(f"{stage.__name__} failed: {str(exc)[:300]}")
            print(f"{stage.__name__} failed: {exc}", file=sys.stderr, flush=True)
            for e in engines.values():
                try:
                    e.remove_all()
                except Exception as exc2:
                    r.notes.append(f"{e.name}: removing containers failed: {str(exc2)[:200]}")


def rotate(engines: dict[str, Engine], rnd: int) -> list[str]:
    order = list(engines)
    return order[rnd % len(order):] + order[:rnd % len(order)]


def stage_idle(engines: dict[str, Engine], args: argparse.Namespace, r: Results) -> None:
    # Warm-up (untimed): first run of each pays for caches and lazy imports.
    for e in engines.values():
        e.docker("run", "--rm", *e.net, "busybox", "true")
    settle()
    for name, e in engines.items():
        r.add("idle rss, daemon alone", name, rss(e.daemon_pids()[:1]))
        r.add("idle rss", name, rss(e.daemon_pids()))
        r.add("idle rss, each page once", name, distinct_rss(e.daemon_pids()))
        r.add("idle pss", name, pss(e.daemon_pids()))


def stage_run_rm(engines: dict[str, Engine], args: argparse.Namespace, r: Results) -> None:
    print("run --rm …", file=sys.stderr, flush=True)
    for rnd in range(args.rounds):
        for name in rotate(engines, rnd):
            e = engines[name]
            r.add("run --rm docker", name, timed(
                lambda e=e: e.docker("run", "--rm", *e.net, "busybox", "true")))  # type: ignore[misc]
            if isinstance(e, DockyardEngine):
                r.add("run --rm dockyard", name, timed(
                    lambda e=e: e.dockyard("run", "-H", e.host, "--rm", *e.net,  # type: ignore[misc]
                                           "busybox", "true")))


def stage_batches(engines: dict[str, Engine], args: argparse.Namespace, r: Results) -> None:
    print("20 create+start …", file=sys.stderr, flush=True)
    for rnd in range(args.batches):
        for name in rotate(engines, rnd):
            for parallel in (False, True):
                settle()
                what = "20 parallel" if parallel else "20 serial"
                r.add(what, name, batch(engines[name], f"b{rnd}{int(parallel)}", 20, parallel))


def stage_memory_and_ps(engines: dict[str, Engine], args: argparse.Namespace, r: Results) -> None:
    order = list(engines)
    print("50 running: memory …", file=sys.stderr, flush=True)
    for name in order:
        fill(engines[name], "m", 0, 50)
    settle()
    for name, e in engines.items():
        sup = e.supervisor_pids()
        r.add("busy rss", name, rss(e.daemon_pids()))
        r.add("busy pss", name, pss(e.daemon_pids()))
        if len(sup) != 50:
            r.notes.append(f"{name}: found {len(sup)} supervisor processes for 50 running containers")
        if sup:
            r.add("supervisor pss", name, pss(sup) / len(sup))
            r.add("supervisor rss", name, rss(sup) / len(sup))
            # A fork's own pages: the floor its PSS tends to with many siblings.
            r.add("supervisor private", name, pss(sup, "Private_Dirty") / len(sup))

    print("100 running: docker ps …", file=sys.stderr, flush=True)
    for name in order:
        fill(engines[name], "m", 50, 50)
    settle()
    for name, e in engines.items():
        n = len(e.docker("ps", "-q").split())
        if n != 100:
            r.notes.append(f"{name}: `docker ps` listed {n} running containers, not 100")
    for rnd in range(args.rounds * 2):
        for name in rotate(engines, rnd):
            r.add("ps", name, timed(lambda e=engines[name]: e.docker("ps")))  # type: ignore[misc]
    for e in engines.values():
        e.remove_all()


# --- the report -----------------------------------------------------------------------


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def cell(xs: list[float], scale: float = 1.0, fmt: str = "{:.0f}") -> str:
    if not xs:
        return "—"
    v = [x * scale for x in xs]
    m = fmt.format(med(v))
    return m if len(v) == 1 else f"{m} ({fmt.format(min(v))}–{fmt.format(max(v))})"


def ratio(a: list[float], b: list[float]) -> str:
    return f"{med(a) / med(b):.2f}×" if a and b else "—"


def report(r: Results, ref: str, ours: list[str]) -> str:
    g = r.get
    lines = [
        "Times through the real `docker` CLI (28.x) against each engine, median (min–max); "
        f"ratio: dockyard / {ref} (lower is better for times, higher for rates):",
        "",
        "| what | " + " | ".join(ours + [ref]) + " | " + " | ".join(f"ratio {o}" for o in ours) + " |",
        "| --- |" + " ---: |" * (2 * len(ours) + 1),
    ]

    def row(label: str, what: str, scale: float, fmt: str, who_what: str | None = None) -> None:
        cells = [cell(g(who_what or what, o), scale, fmt) for o in ours]
        refc = cell(g(what, ref), scale, fmt)
        ratios = [ratio(g(who_what or what, o), g(what, ref)) for o in ours]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {refc} | " + " | ".join(ratios) + " |")

    row("`docker run --rm busybox true`, ms", "run --rm docker", 1000, "{:.0f}")
    row("`dockyard run --rm busybox true` (our CLI), ms", "run --rm docker", 1000, "{:.0f}",
        who_what="run --rm dockyard")
    row("20 × create+start, one after another, containers/s", "20 serial", 1, "{:.2f}")
    row("20 × create+start, all at once, containers/s", "20 parallel", 1, "{:.2f}")
    row("`docker ps` with 100 running, ms", "ps", 1000, "{:.0f}")
    lines += [
        "",
        "Memory (MiB; RSS from /proc/PID/status, PSS from /proc/PID/smaps_rollup). Daemon: "
        "dockyard's daemon + its zygote; Docker's dockerd + containerd. Supervisor: "
        "dockyard's per-container supervisor; Docker's containerd-shim-runc-v2. A sum of RSS "
        "counts twice the pages two processes share (the same library's, a fork's); "
        "\"each page once\" counts the physical pages the processes map together (their frame "
        "numbers from /proc/PID/pagemap); PSS splits shared pages among all their users:",
        "",
        "| what | " + " | ".join(ours + [ref]) + " |",
        "| --- |" + " ---: |" * (len(ours) + 1),
    ]
    for label, what in (("daemon RSS, idle", "idle rss"),
                        ("daemon RSS, idle, each page once", "idle rss, each page once"),
                        ("of which the main process (dockerd / dockyard daemon)", "idle rss, daemon alone"), ("daemon PSS, idle", "idle pss"),
                        ("daemon RSS, 50 running", "busy rss"), ("daemon PSS, 50 running", "busy pss"),
                        ("PSS per supervisor, 50 running", "supervisor pss"),
                        ("RSS per supervisor, 50 running", "supervisor rss"),
                        ("Private_Dirty per supervisor, 50 running", "supervisor private")):
        lines.append(f"| {label} | " + " | ".join(cell(g(what, w), 1, "{:.1f}") for w in ours + [ref]) + " |")
    lines += [
        "",
        "Reading the memory: a dockyard supervisor is a fork of the zygote (Python) that creates "
        "and starts its container and then, by default (`dockyard daemon --supervisor c`), "
        "`execve`s the small static C shim (engine/cshim.py) in the same process, so a running "
        "container's supervisor holds no Python at all; with `--supervisor python` it stays a "
        "fork of the zygote and owns the pages it has written since the fork (~2.5 MiB). "
        "A containerd shim is a separate Go program per container (its RSS is mostly its own).",
        "",
        "Targets (issue 4):",
        "",
    ]

    def target(label: str, ok: bool | None, detail: str) -> None:
        state = "not measured" if ok is None else ("met" if ok else "NOT met")
        lines.append(f"- {label}: **{state}** ({detail})")

    for o in ours:
        a, b = g("run --rm docker", o), g("run --rm docker", ref)
        target(f"{o}: `docker run --rm` ≤ half of Docker's", (med(a) <= med(b) / 2) if a and b else None,
               ratio(a, b))
        a = g("run --rm dockyard", o)
        if a:
            target(f"{o}: `dockyard run --rm` ≤ half of Docker's", (med(a) <= med(b) / 2) if b else None,
                   ratio(a, b))
        for what in ("20 serial", "20 parallel"):
            a, b = g(what, o), g(what, ref)
            target(f"{o}: {what} ≥ 3× Docker's throughput", (med(a) >= 3 * med(b)) if a and b else None,
                   ratio(a, b))
        a, b = g("ps", o), g("ps", ref)
        target(f"{o}: `docker ps` no slower than Docker's", (med(a) <= med(b)) if a and b else None,
               ratio(a, b))
        a, once = g("idle rss", o), g("idle rss, each page once", o)
        target(f"{o}: daemon idle RSS < 60 MiB", (med(a) < 60) if a else None,
               (f"{med(a):.1f} MiB summed" + (f", {med(once):.1f} MiB each page once"
                                              if once and med(once) else "")) if a else "—")
        a = g("supervisor pss", o)
        target(f"{o}: < 1 MiB PSS per running container", (med(a) < 1) if a else None,
               f"{med(a):.2f} MiB" if a else "—")
    if r.notes:
        lines += [""] + [f"- {n}" for n in r.notes]
    return "\n".join(lines) + "\n"


_TARGET = re.compile(r"^- (.+?): \*\*(met|NOT met|not measured)\*\* \((.*)\)$")
_RUN_AT = re.compile(r"run at (\d{4}-\d\d-\d\d \d\d:\d\d UTC)")
_LOAD = re.compile(r"load average ([\d.]+) before, ([\d.]+) after")


def _targets(text: str) -> dict[str, str]:
    """label → "state (detail)" of the target lines a report wrote."""
    return {m.group(1): f"{m.group(2)} ({m.group(3)})"
            for m in map(_TARGET.match, text.splitlines()) if m}


def compare(old_section: str, body: str) -> str:
    """Each target's figure in the previous run (the section being replaced) and in this one."""
    before, after = _targets(old_section), _targets(body)
    when = _RUN_AT.search(old_section)
    rows = [f"| {label} | {before[label]} | {after[label]} |" for label in after if label in before]
    if not rows:
        return ""

    def load(text: str) -> str:
        m = _LOAD.search(text)
        return f"1-min load {m.group(1)}→{m.group(2)}" if m else "load unknown"

    return ("\n".join([
        f"Before and after (the previous run of this benchmark, {when.group(1) if when else 'date unknown'}, "
        f"{load(old_section)}; this one, {load(body)}; same machine). The machine is shared: "
        "at a higher load every Python step waits longer for a core than Go's, so ratios "
        "taken at different loads are not strictly comparable:",
        "",
        "| target | before | after |",
        "| --- | --- | --- |",
        *rows,
    ]) + "\n\n")


def write_doc(body: str, command: str) -> None:
    old = ""
    if os.path.exists(DOC):
        with open(DOC) as f:
            text = f.read()
        if BEGIN in text and END in text:
            old = text.split(BEGIN, 1)[1].split(END, 1)[0]
    section = (f"{BEGIN}\n## Engine: dockyard daemon against Docker 20.10's dockerd\n\n"
               f"Command: `{command}`.\n\n{compare(old, body)}{body}{END}\n")
    benchdoc.write_section(BEGIN, END, section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=8, help="interleaved rounds of run --rm (ps: twice as many)")
    ap.add_argument("--batches", type=int, default=3, help="interleaved rounds of the 20 create+start")
    ap.add_argument("--bridge", action="store_true",
                    help="also measure a dockyard daemon with its default bridge (named per run)")
    ap.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/engine.py needs root (both engines run real containers)")
    # A SIGTERM must still stop both daemons and remove their dirs (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    import compileall

    import dockyard

    # With PYTHONDONTWRITEBYTECODE set, every CLI call would compile every module anew.
    compileall.compile_dir(os.path.dirname(dockyard.__file__), quiet=1)
    started = time.time()
    load_before = os.getloadavg()[0]
    r = Results()
    engines: dict[str, Engine] = {}
    work = tempfile.mkdtemp(prefix="dybe-in-", dir="/tmp")
    try:
        rootfs = make_rootfs(os.path.join(work, "rootfs"))
        tar = os.path.join(work, "busybox.tar")
        subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
        ours = DockyardEngine()
        engines["dockyard"] = ours
        ours.start()
        if args.bridge:
            bridged = DockyardEngine(f"dyb{os.getpid() % 100000}")
            bridged.name = "dockyard (bridge)"
            engines[bridged.name] = bridged
            bridged.start()
        dk = DockerEngine()
        engines["Docker"] = dk
        dk.start(tar)
        run_all(engines, args, r)
        r.notes.insert(0, f"Docker {dk.d.version}, {subprocess.run([DOCKER, '--version'], capture_output=True, text=True).stdout.strip()}; "
                          "both engines private (state under /tmp), started and stopped by this run; "
                          "containers `--network none`, except the bridged dockyard daemon's (its default "
                          "bridge, a veth each), so that column pays for networking Docker's does not")  # fmt: skip
    finally:
        for e in engines.values():
            e.stop()
        remove_tree(work)
    r.notes.append(
        f"Machine: {os.cpu_count()} cores, kernel {platform.release()}, shared with other work "
        f"(1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after); run at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, {time.time() - started:.0f} s in all"
    )
    body = report(r, "Docker", [n for n in engines if n != "Docker"])
    print(body)
    if args.write_doc:
        write_doc(body, shlex.join([".venv/bin/python", "bench/engine.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
