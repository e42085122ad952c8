"""OCI runtime benchmark: a busybox ``/bin/true`` container, created → started → exited → deleted.

Contenders, in one run and interleaved (A B C D, B C D A, …), each with a
private ``--root``:

- ``dockyard-runtime run`` (the CLI: a new Python interpreter per container);
- the in-process API, ``dockyard.runtime.api.Runtime`` (what the engine
  calls): create, start, wait, delete;
- Debian's ``runc run`` and ``crun run``.

``run`` in the foreground is create, start, wait for the exit and delete in
one command, for every runtime alike (the API does the same four verbs).
With ``--lifecycle``, also the way containerd's shim drives a runtime:
``create --pid-file``, ``start``, wait for the init (this process is the
child subreaper, as the shim is) and ``delete``: three runtime processes
per container, for dockyard-runtime and runc.
Then, for each contender, 20 containers at once: 20 ``run`` commands
started together (CLI, runc, crun), or 20 ``create`` then 20 ``start``,
20 waits and 20 ``delete`` in this one process (API). Reports medians, min–max and ratios against runc,
as a markdown table; ``--write-doc`` puts it in docs/benchmarks.md.

crun refuses this project's hybrid cgroup hosts while the hugetlb
controller sits in cgroup v2 (BENCHMARKS.md); the benchmark then binds
hugetlb to a v1 hierarchy for crun's sake and unmounts it afterwards. The
kernel keeps an unmounted v1 hierarchy alive while processes reference it,
so hugetlb may stay off cgroup v2 until reboot (crun then works without
the mount); nothing else on the host changes.

Usage: ``.venv/bin/python bench/runtime.py [--rounds 25] [--parallel 20] [--write-doc]``
(as root).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import benchdoc  # bench/ is on sys.path when a benchmark runs as a script

from dockyard.busybox import make_rootfs

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOC = os.path.join(REPO, "docs", "benchmarks.md")
DY = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")
HUGETLB = "/sys/fs/cgroup/hugetlb"
BEGIN, END = "<!-- bench/runtime.py: begin -->", "<!-- bench/runtime.py: end -->"


@dataclass
class Contender:
    name: str
    one: Callable[[str], None]  # run one container with this id
    many: Callable[[list[str]], None]  # run these containers at once
    times: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    error: str = ""


def make_bundle(work: str) -> str:
    """A busybox bundle from ``runc spec`` (runc's defaults), running /bin/true."""
    bundle = os.path.join(work, "bundle")
    os.makedirs(bundle)
    make_rootfs(os.path.join(bundle, "rootfs"))
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return bundle


TIMEOUT = 60.0  # one container, or one batch: far beyond any healthy run
LIFECYCLE = ": create, start, delete (3 calls)"


def _diagnose(p: subprocess.Popen[bytes]) -> str:
    """What a stuck command and its session are doing (ps, kernel wait channel)."""
    sid = p.pid  # start_new_session: the session id is the command's pid
    lines = []
    ps = subprocess.run(["ps", "-eo", "pid,sid,stat,wchan:24,args"], capture_output=True, text=True)
    for line in ps.stdout.splitlines()[1:]:
        f = line.split(None, 4)
        if len(f) >= 2 and f[1] == str(sid):
            lines.append(line.strip())
    return "; ".join(lines) or "no process left in its session"


def _kill_session(p: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(p.pid, 9)
    except ProcessLookupError:
        pass
    p.wait()


def cli_contender(name: str, argv0: list[str], root: str, bundle: str) -> Contender:
    def start(cid: str) -> subprocess.Popen[bytes]:
        # A session of its own, so a stuck run can be killed with all it started.
        return subprocess.Popen(
            [*argv0, "--root", root, "run", "--bundle", bundle, cid],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip

    def finish(p: subprocess.Popen[bytes], cid: str, deadline: float) -> str:
        try:
            _, err = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            why = _diagnose(p)
            _kill_session(p)
            return f"{cid}: stuck for {TIMEOUT:.0f}s: {why}"
        if p.returncode != 0:
            return f"{cid}: exit {p.returncode}: {err.decode().strip()}"
        return ""

    def one(cid: str) -> None:
        error = finish(start(cid), cid, time.monotonic() + TIMEOUT)
        if error:
            raise RuntimeError(f"{name} run {error}")

    def many(ids: list[str]) -> None:
        procs = [(start(cid), cid) for cid in ids]
        deadline = time.monotonic() + TIMEOUT
        errors = [e for e in (finish(p, cid, deadline) for p, cid in procs) if e]
        if errors:
            raise RuntimeError(f"{name}: {len(errors)} of {len(ids)} failed: {errors[0]}")

    return Contender(name, one, many)


def lifecycle_contender(name: str, argv0: list[str], root: str, bundle: str, work: str) -> Contender:
    """create → start → (the init exits) → delete, three calls, as containerd's shim makes them.

    The init outlives ``create``'s process; this process is the child
    subreaper (``become_subreaper``), so the init is reparented here and
    waited for like any child.
    """

    def call(argv: list[str], cid: str) -> None:
        # stderr to a file: the init holds create's stdio, and a pipe would
        # wait for its exit.
        with tempfile.TemporaryFile() as err:
            p = subprocess.run([*argv0, "--root", root, *argv], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err, timeout=TIMEOUT)
            if p.returncode != 0:
                err.seek(0)
                raise RuntimeError(f"{name} {argv[0]} {cid}: exit {p.returncode}: "
                                   f"{err.read().decode().strip()}")

    def one(cid: str) -> None:
        pid_file = os.path.join(work, f"{cid}.pid")
        call(["create", "--bundle", bundle, "--pid-file", pid_file, cid], cid)
        with open(pid_file) as f:
            pid = int(f.read())
        os.unlink(pid_file)
        call(["start", cid], cid)
        _, status = os.waitpid(pid, 0)
        call(["delete", cid], cid)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{name} {cid}: exit status {status}")

    def many(ids: list[str]) -> None:
        for cid in ids:
            one(cid)

    return Contender(name, one, many)


def become_subreaper() -> None:
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def api_contender(root: str, bundle: str) -> Contender:
    """The engine's path: ``Runtime`` verbs in this process, no interpreter start."""
    from dockyard.runtime.api import Runtime

    rt = Runtime(root)
    null = os.open(os.devnull, os.O_RDWR)
    stdio = (null, null, null)

    def one(cid: str) -> None:
        rt.create(cid, bundle, stdio=stdio)
        rt.start(cid)
        status = rt.wait(cid)
        rt.delete(cid)
        if status != 0:
            raise RuntimeError(f"api {cid}: exit {status}")

    def many(ids: list[str]) -> None:
        for cid in ids:
            rt.create(cid, bundle, stdio=stdio)
        for cid in ids:
            rt.start(cid)
        statuses = [rt.wait(cid) for cid in ids]
        for cid in ids:
            rt.delete(cid)
        if any(statuses):
            raise RuntimeError(f"api: exit statuses {statuses}")

    return Contender("dockyard API (in-process)", one, many)


def crun_needs_hugetlb(root: str, bundle: str) -> bool:
    p = subprocess.run(
        ["crun", "--root", root, "run", "--bundle", bundle, "probe"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    return p.returncode != 0 and b"hybrid" in p.stderr


def mount_hugetlb_v1() -> bool:
    """Bind hugetlb to a v1 hierarchy for crun; True if we mounted it (undo later)."""
    if os.path.ismount(HUGETLB):
        return False
    os.makedirs(HUGETLB, exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], check=True)
    return True


def unmount_hugetlb_v1() -> None:
    # Child cgroups a runtime left would keep the hierarchy busy: remove them first.
    for dirpath, _dirs, _files in os.walk(HUGETLB, topdown=False):
        if dirpath != HUGETLB:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    subprocess.run(["umount", HUGETLB], check=False)
    try:
        os.rmdir(HUGETLB)
    except OSError:
        pass


def fmt_ms(xs: list[float]) -> tuple[str, str]:
    med = statistics.median(xs) * 1000
    return f"{med:.1f}", f"{min(xs) * 1000:.1f}–{max(xs) * 1000:.1f}"


def report(contenders: list[Contender], rounds: int, parallel: int, notes: list[str]) -> str:
    ok = [c for c in contenders if c.times]
    runc = next((c for c in ok if c.name == "runc"), None)
    runc3 = next((c for c in ok if c.name == "runc" + LIFECYCLE), None)
    lines = [
        f"One container, create → start → exit → delete (median of {rounds}, interleaved):",
        "",
        "| runtime | median ms | min–max ms | ratio vs runc |",
        "| --- | ---: | ---: | ---: |",
    ]
    for c in ok:
        med, rng = fmt_ms(c.times)
        ratio = statistics.median(c.times) / statistics.median(runc.times) if runc else float("nan")
        if c.name.endswith(LIFECYCLE) and runc3 is not None and c is not runc3:
            ratio = statistics.median(c.times) / statistics.median(runc3.times)
            lines.append(f"| {c.name} | {med} | {rng} | {ratio:.2f}× runc's 3 calls |")
        else:
            lines.append(f"| {c.name} | {med} | {rng} | {ratio:.2f}× |")
    lines += [
        "",
        f"{parallel} containers at once (containers/s, median of the rounds):",
        "",
        "| runtime | containers/s | min–max | ratio vs runc |",
        "| --- | ---: | ---: | ---: |",
    ]
    for c in ok:
        if not c.rates or c.name.endswith(LIFECYCLE):
            continue
        med = statistics.median(c.rates)
        ratio = med / statistics.median(runc.rates) if runc and runc.rates else float("nan")
        lines.append(
            f"| {c.name} | {med:.1f} | {min(c.rates):.1f}–{max(c.rates):.1f} | {ratio:.2f}× |"
        )
    by_name = {c.name: c for c in ok}
    cli, api, crun = (by_name.get(n) for n in (
        "dockyard-runtime (CLI)", "dockyard API (in-process)", "crun"))  # fmt: skip
    targets = []
    if cli and runc:
        r = statistics.median(cli.times) / statistics.median(runc.times)
        targets.append(f"CLI within 1.5× of runc: {'met' if r <= 1.5 else 'NOT met'} ({r:.2f}×)")
    if api and crun:
        r = statistics.median(api.times) / statistics.median(crun.times)
        targets.append(f"API at or below crun: {'met' if r <= 1.0 else 'NOT met'} ({r:.2f}× crun)")
    dy3, runc3 = by_name.get("dockyard-runtime" + LIFECYCLE), by_name.get("runc" + LIFECYCLE)
    if dy3 and runc3:
        r = statistics.median(dy3.times) / statistics.median(runc3.times)
        targets.append(f"the shim's create/start/delete within 1.5× of runc's: "
                       f"{'met' if r <= 1.5 else 'NOT met'} ({r:.2f}×)")
    if targets:
        lines += ["", "Targets (issue 2): " + "; ".join(targets) + "."]
    for c in contenders:
        if c.error:
            notes.append(f"{c.name}: failed, left out: {c.error}")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_doc(table: str, command: str) -> None:
    machine = (
        f"{os.cpu_count()} cores, kernel {platform.release()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"1-min load average {os.getloadavg()[0]:.1f} at the end: the machine is shared"
    )
    section = (
        f"{BEGIN}\n## OCI runtime: busybox `/bin/true`, create → start → exit → delete\n\n"
        f"Command: `{command}` ({machine}).\n\n{table}{END}\n"
    )
    benchdoc.write_section(BEGIN, END, section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--parallel", type=int, default=20)
    ap.add_argument("--parallel-rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--write-doc", action="store_true")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the notes under the tables (e.g. the numbers before a change)")
    ap.add_argument("--lifecycle", action="store_true",
                    help="also create/start/delete as three calls, as containerd's shim makes them")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/runtime.py needs root")

    work = tempfile.mkdtemp(prefix="dy-bench-rt-", dir="/tmp")
    roots = {k: os.path.join(work, k) for k in ("dy", "api", "runc", "crun", "dy3", "runc3")}
    import compileall

    import dockyard
    from dockyard.runtime.cgroups import paths

    # An installed package has its bytecode; with PYTHONDONTWRITEBYTECODE set
    # (as in some shells) every CLI call would compile every module anew.
    compileall.compile_dir(os.path.dirname(dockyard.__file__), quiet=1)
    notes: list[str] = [
        f"cgroups on this host: {paths.host().mode}; dockyard's bytecode precompiled",
        *args.note,
    ]
    mounted = False
    contenders: list[Contender] = []
    try:
        bundle = make_bundle(work)
        contenders.append(cli_contender("dockyard-runtime (CLI)", [DY], roots["dy"], bundle))
        try:
            contenders.append(api_contender(roots["api"], bundle))
        except ImportError as e:
            notes.append(f"in-process API not available: {e}")
        contenders.append(cli_contender("runc", ["runc"], roots["runc"], bundle))
        if args.lifecycle:
            become_subreaper()
            contenders.append(lifecycle_contender("dockyard-runtime" + LIFECYCLE, [DY], roots["dy3"],
                                                  bundle, work))
            contenders.append(lifecycle_contender("runc" + LIFECYCLE, ["runc"], roots["runc3"],
                                                  bundle, work))
        if shutil.which("crun"):
            if crun_needs_hugetlb(roots["crun"], bundle):
                mounted = mount_hugetlb_v1()
                notes.append(
                    "crun refuses hybrid cgroups while hugetlb is on cgroup v2: hugetlb was "
                    "bound to a v1 hierarchy for this run (BENCHMARKS.md)"
                )
            subprocess.run(["crun", "--root", roots["crun"], "delete", "-f", "probe"],
                           stderr=subprocess.DEVNULL, check=False)  # fmt: skip
            contenders.append(cli_contender("crun", ["crun"], roots["crun"], bundle))
        else:
            notes.append("crun not installed")

        seq = 0
        for rnd in range(args.warmup + args.rounds):
            k = rnd % len(contenders)
            for c in contenders[k:] + contenders[:k]:  # rotate who goes first
                if c.error:
                    continue
                seq += 1
                t = time.perf_counter()
                try:
                    c.one(f"b{seq}")
                except Exception as e:  # report it and go on with the others
                    c.error = str(e)[:300]
                    print(f"{c.name}: {c.error}", file=sys.stderr)
                    continue
                if rnd >= args.warmup:
                    c.times.append(time.perf_counter() - t)
        for rnd in range(args.parallel_rounds):
            k = rnd % len(contenders)
            for c in contenders[k:] + contenders[:k]:
                if c.error or c.name.endswith(LIFECYCLE):  # one at a time only: the shim's way
                    continue
                ids = [f"p{rnd}x{i}" for i in range(args.parallel)]
                t = time.perf_counter()
                try:
                    c.many(ids)
                except Exception as e:  # likewise
                    c.error = f"{args.parallel} at once: {str(e)[:300]}"
                    print(f"{c.name}: {c.error}", file=sys.stderr)
                    continue
                c.rates.append(args.parallel / (time.perf_counter() - t))
    finally:
        for name, root in roots.items():
            if not os.path.isdir(root):
                continue
            argv0 = {"dy": [DY], "api": [DY], "runc": ["runc"], "crun": ["crun"], "dy3": [DY],
                     "runc3": ["runc"]}[name]
            for cid in os.listdir(root):
                if os.path.isdir(os.path.join(root, cid)):
                    subprocess.run([*argv0, "--root", root, "delete", "--force", cid],
                                   stderr=subprocess.DEVNULL, check=False)  # fmt: skip
        if mounted:
            unmount_hugetlb_v1()
        shutil.rmtree(work, ignore_errors=True)
    table = report(contenders, args.rounds, args.parallel, notes)
    print(table)
    if args.write_doc:
        shown, skip = [], False  # the command line without the --note texts (they are below)
        for a in sys.argv[1:]:
            if skip or a.startswith("--note="):
                skip = False
                continue
            skip = a == "--note"
            if not skip:
                shown.append(a)
        command = ".venv/bin/python bench/runtime.py " + " ".join(shown)
        write_doc(table, command.strip())
        print(f"written to {DOC}")


if __name__ == "__main__":
    main()
