"""Profile of the OCI runtime: where a container's time goes, and A/B of two source trees.

``bench/runtime.py`` says how dockyard compares with runc and crun; this
one says why, and whether a change helped:

- ``phases``: the in-process API's create / start / wait / delete, each with
  wall time and CPU time of this process and of its reaped children
  ([1:CHILD] is reaped by create, the init by wait). On a loaded machine wall
  time is mostly waiting for a CPU; CPU time is what a change can cut.
- ``imports``: CPU time of the CLI's start-up per verb (a Python CLI pays
  its imports on every call).
- ``ab``: ``run`` of a busybox ``/bin/true`` through the CLI and the API of
  each ``--src`` tree (e.g. a copy of the code before a change, and
  ``src``), with runc and crun, interleaved round by round (A B C …,
  B C … A): medians, min–max, ratios against runc, wall and CPU.
  Each API contender is a worker process importing dockyard from its tree;
  ``--threaded`` adds one that runs a second thread, as the engine does
  (the runtime then cannot clone the init directly: stages.py).

Usage (root)::

    .venv/bin/python bench/runtime_profile.py phases --rounds 30
    .venv/bin/python bench/runtime_profile.py imports
    .venv/bin/python bench/runtime_profile.py ab --src before=/tmp/old/src --src after=src --rounds 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DY = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")

_WORKER = """
import os, resource, sys, threading, time
from dockyard.runtime.api import Runtime
rt = Runtime(sys.argv[1]); bundle = sys.argv[2]
if sys.argv[3] == "threaded":  # as the engine: the runtime then takes its two-stage path
    threading.Thread(target=threading.Event().wait, daemon=True).start()
null = os.open(os.devnull, os.O_RDWR)
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime
for line in sys.stdin:
    cid = line.strip()
    t, c = time.perf_counter(), cpu()
    rt.create(cid, bundle, stdio=(null, null, null)); rt.start(cid)
    status = rt.wait(cid); rt.delete(cid)
    print(time.perf_counter() - t, cpu() - c, status, flush=True)
"""


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_bundle(work: str) -> str:
    sys.path.insert(0, os.path.join(REPO, "src"))
    from dockyard.busybox import make_rootfs

    bundle = os.path.join(work, "bundle")
    os.makedirs(bundle)
    make_rootfs(os.path.join(bundle, "rootfs"))
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["process"].update(terminal=False, args=["/bin/true"])
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return bundle


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.1f}"


def phases(work: str, bundle: str, rounds: int) -> None:
    from dockyard.runtime.api import Runtime

    rt = Runtime(os.path.join(work, "api"))
    null = os.open(os.devnull, os.O_RDWR)
    names = ("create", "start", "wait", "delete")
    rows: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for i in range(rounds + 2):
        cid = f"ph{i}"
        marks = [(time.perf_counter(), self_cpu(), children_cpu())]
        steps = (partial(rt.create, cid, bundle, stdio=(null, null, null)), partial(rt.start, cid),
                 partial(rt.wait, cid), partial(rt.delete, cid))
        for step in steps:
            step()
            marks.append((time.perf_counter(), self_cpu(), children_cpu()))
        if i < 2:
            continue  # warm-up
        for n, a, b in zip(names, marks, marks[1:], strict=False):
            rows[n].append((b[0] - a[0], b[1] - a[1], b[2] - a[2]))
    print(f"In-process API, median of {rounds} (ms):\n")
    print("| phase | wall | CPU, this process | CPU, reaped children |")
    print("| --- | ---: | ---: | ---: |")
    for n in names:
        r = rows[n]
        print(f"| {n} | {med([x[0] for x in r])} | {med([x[1] for x in r])} | {med([x[2] for x in r])} |")


def imports(rounds: int) -> None:
    root = tempfile.mkdtemp(prefix="dy-prof-", dir="/tmp")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -I -S -c pass": [sys.executable, "-I", "-S", "-c", "pass"],
        "dockyard-runtime --version": [DY, "--version"],
        "dockyard-runtime state (no such)": [DY, "--root", root, "state", "x"],
        "runc --version": ["runc", "--version"],
    }
    for verb in ("create", "run", "delete", "start", "kill"):
        cases[f"import runtime.{verb}"] = [sys.executable, "-c", f"import dockyard.runtime.{verb}"]
    print(f"CLI start-up CPU, median of {rounds} (ms):\n")
    print("| command | CPU | wall |")
    print("| --- | ---: | ---: |")
    for name, argv in cases.items():
        cpu, wall = [], []
        for _ in range(rounds):
            c, t = children_cpu(), time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall.append(time.perf_counter() - t)
            cpu.append(children_cpu() - c)
        print(f"| {name} | {med(cpu)} | {med(wall)} |")
    shutil.rmtree(root, ignore_errors=True)


def ab(work: str, bundle: str, trees: list[tuple[str, str]], rounds: int, threaded: bool) -> None:
    runners: list[tuple[str, object]] = []
    workers = []
    for label, src in trees:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(src))
        root = os.path.join(work, f"cli-{label}")

        def cli(cid: str, root: str = root, env: dict[str, str] = env) -> tuple[float, float]:
            c, t = children_cpu(), time.perf_counter()
            subprocess.run([DY, "--root", root, "run", "--bundle", bundle, cid], env=env, check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            return time.perf_counter() - t, children_cpu() - c

        runners.append((f"CLI [{label}]", cli))
        for mode in ("single", "threaded") if threaded else ("single",):
            w = subprocess.Popen([sys.executable, "-c", _WORKER, os.path.join(work, f"api-{label}-{mode}"),
                                  bundle, mode], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            workers.append(w)

            def api(cid: str, w: subprocess.Popen[str] = w) -> tuple[float, float]:
                assert w.stdin is not None and w.stdout is not None
                w.stdin.write(cid + "\n")
                w.stdin.flush()
                wall, cpu, status = w.stdout.readline().split()
                if status != "0":
                    raise RuntimeError(f"exit {status}")
                return float(wall), float(cpu)

            runners.append((f"API [{label}]" + (" caller with threads" if mode == "threaded" else ""), api))
    for ref in ("runc", "crun"):
        root = os.path.join(work, ref)
        probe = [ref, "--root", root, "run", "--bundle", bundle, "probe"]
        if not shutil.which(ref) or subprocess.run(probe, capture_output=True).returncode != 0:
            print(f"{ref}: not installed or refuses this host (see bench/runtime.py for crun)")
            continue

        def refrun(cid: str, ref: str = ref, root: str = root) -> tuple[float, float]:
            c, t = children_cpu(), time.perf_counter()
            subprocess.run([ref, "--root", root, "run", "--bundle", bundle, cid], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            return time.perf_counter() - t, children_cpu() - c

        runners.append((ref, refrun))
    results: dict[str, list[tuple[float, float]]] = {n: [] for n, _ in runners}
    load0 = os.getloadavg()[0]
    try:
        for rnd in range(rounds + 2):
            k = rnd % len(runners)
            for name, fn in runners[k:] + runners[:k]:
                got = fn(f"r{rnd}x{abs(hash(name)) % 10**6}")  # type: ignore[operator]
                if rnd >= 2:
                    results[name].append(got)
    finally:
        for w in workers:
            if w.stdin:
                w.stdin.close()
            w.wait()
    load1 = os.getloadavg()[0]
    runc = statistics.median(x[0] for x in results["runc"])
    print(f"run of busybox /bin/true, median of {rounds} interleaved rounds; "
          f"load average {load0:.1f} → {load1:.1f} on {os.cpu_count()} cores:\n")
    print("| contender | wall ms | min–max | vs runc | CPU ms (all processes) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        walls = [x[0] for x in r]
        print(f"| {name} | {med(walls)} | {min(walls) * 1000:.1f}–{max(walls) * 1000:.1f} | "
              f"{statistics.median(walls) / runc:.2f}× | {med([x[1] for x in r])} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("what", choices=["phases", "imports", "ab"])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--src", action="append", default=[], metavar="LABEL=DIR")
    ap.add_argument("--threaded", action="store_true",
                    help="ab: also an API caller with a second thread (the engine's case)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/runtime_profile.py needs root")
    if args.what == "imports":
        imports(args.rounds)
        return
    work = tempfile.mkdtemp(prefix="dy-prof-", dir="/tmp")
    try:
        bundle = make_bundle(work)
        if args.what == "phases":
            phases(work, bundle, args.rounds)
        else:
            trees = [tuple(s.split("=", 1)) for s in args.src] or [("src", os.path.join(REPO, "src"))]
            import compileall

            for _label, src in trees:
                # Bytecode for every tree alike: with PYTHONDONTWRITEBYTECODE set (as in
                # some shells) each CLI call would otherwise compile what it imports.
                compileall.compile_dir(src, quiet=1)
            ab(work, bundle, trees, args.rounds, args.threaded)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
