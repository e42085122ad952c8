"""Build benchmark: dockyard's builder against Docker's legacy builder and BuildKit.

In one run, each contender with private state:

- Docker: Debian's ``dockerd`` 20.10 (docker.io) with its own data root
  (``Dockerd`` from ``bench/images.py``), driven by Debian's docker 20.10
  CLI: ``DOCKER_BUILDKIT=0`` (legacy builder) and ``DOCKER_BUILDKIT=1``
  (the BuildKit inside dockerd). If it cannot start, dockyard is still
  measured.
- dockyard: ``dockyard build`` (a new Python process per build, as
  ``docker build`` is a new CLI process), ``Builder.build`` in this
  process, and "through the daemon": docker 28's CLI
  (``DOCKER_BUILDKIT=0 docker build``) against a private ``dockyard
  daemon --bridge none`` (``POST /build`` with a tar context upload).

Every contender starts from the same ``busybox:latest`` (Debian's
busybox-static rootfs, imported with ``CMD ["sh"]``). Builds use
``--network=none`` (no bridge here). Scenarios, ``--rounds`` times each,
median reported:

- cold: ``FROM busybox`` + ``RUN`` + ``COPY`` of a 1 MiB file + ``RUN``,
  with ``--no-cache``;
- cached: the same build again, nothing changed;
- two stages: two independent stages of ``sleep 1`` each and a final stage
  copying from both, ``--no-cache`` (about one stage's time if parallel).

Run as root: ``.venv/bin/python bench/build.py [--rounds 3] [--write-doc]``;
``--write-doc`` replaces this benchmark's marked section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchdoc  # bench/ is on sys.path when a benchmark runs as a script

from images import Dockerd, remove_tree

DOCKER_CLI = "/usr/bin/docker"  # Debian's 20.10 CLI: DOCKER_BUILDKIT=1 works without buildx
DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")
DOCKER28_CLI = "/usr/local/bin/docker"  # docker 28: what users drive the dockyard daemon with
DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "benchmarks.md")
BEGIN, END = "<!-- bench/build.py: begin -->", "<!-- bench/build.py: end -->"

SIMPLE = """FROM busybox
RUN echo one > /one
COPY blob.bin /blob.bin
RUN wc -c /blob.bin > /size
"""
TWO_STAGES = """FROM busybox AS a
RUN sleep 1 && echo a > /a
FROM busybox AS b
RUN sleep 1 && echo b > /b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
"""


def make_contexts(work: str) -> dict[str, str]:
    simple = os.path.join(work, "simple")
    two = os.path.join(work, "two")
    os.makedirs(simple)
    os.makedirs(two)
    with open(os.path.join(simple, "blob.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    with open(os.path.join(simple, "Dockerfile"), "w") as f:
        f.write(SIMPLE)
    with open(os.path.join(two, "Dockerfile"), "w") as f:
        f.write(TWO_STAGES)
    return {"simple": simple, "two": two}


def busybox_tar(work: str) -> str:
    from dockyard.busybox import make_rootfs

    rootfs = os.path.join(work, "rootfs")
    make_rootfs(rootfs)
    tar = os.path.join(work, "busybox.tar")
    subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
    shutil.rmtree(rootfs)
    return tar


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-800:]}")


class DyDaemon:
    """A private ``dockyard daemon`` (own --root/--run-root, no bridge) on a short unix socket."""

    def __init__(self, work: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="dybd-", dir="/tmp")
        self.sock = os.path.join(self.dir, "d.sock")
        self.env = dict(os.environ, DOCKER_HOST="unix://" + self.sock, DOCKER_BUILDKIT="0",
                        DOCKER_CONFIG=os.path.join(self.dir, "cfg"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(os.path.join(self.dir, "daemon.log"), "ab")
        self.proc = subprocess.Popen(
            [DOCKYARD, "daemon", "--root", os.path.join(self.dir, "root"), "--run-root",
             os.path.join(self.dir, "run"), "-H", "unix://" + self.sock, "--bridge", "none"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockyard daemon exited {self.proc.returncode}")
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=self.sock)) as c:
                    if c.get("http://d/_ping").text == "OK":
                        return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("dockyard daemon did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        remove_tree(self.dir)


def write_doc(body: str, command: str) -> None:
    section = (f"{BEGIN}\n## Build: dockyard's builder against Docker's legacy builder and BuildKit\n\n"
               f"Command: `{command}`.\n\n{body}{END}\n")
    benchdoc.write_section(BEGIN, END, section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--no-daemon", action="store_true", help="skip the dockyard daemon row")
    ap.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    started = time.time()
    loads: list[float] = [os.getloadavg()[0]]
    notes: list[str] = []
    dyd: DyDaemon | None = None

    work = tempfile.mkdtemp(prefix="dybb-", dir="/tmp")
    results: dict[tuple[str, str], list[float]] = {}
    docker: Dockerd | None = None
    try:
        ctx = make_contexts(work)
        tar = busybox_tar(work)

        # dockyard: a private root with busybox imported
        from dockyard.build import Builder, BuildOptions
        from dockyard.images import ImageService

        root = os.path.join(work, "dy")
        svc = ImageService.open(root)
        svc.import_image(tar, "busybox:latest", changes=['CMD ["sh"]'])
        builder = Builder(svc, os.path.join(root, "build"))

        def dy_cli(context: str, no_cache: bool) -> None:
            run([DOCKYARD, "build", "-q", "--network", "none", "--root", root, "-t", "bench:latest",
                 *(["--no-cache"] if no_cache else []), context])

        def dy_lib(context: str, no_cache: bool) -> None:
            builder.build(BuildOptions(context=context, tags=["bench:latest"], network="none",
                                       no_cache=no_cache))

        contenders: dict[str, Callable[[str, bool], None]] = {"dockyard (CLI)": dy_cli,
                                                               "dockyard (in-process)": dy_lib}
        if not args.no_daemon:
            try:
                dyd = DyDaemon(work)
                dyd.start()
                run([DOCKER28_CLI, "import", "-c", 'CMD ["sh"]', tar, "busybox:latest"], dyd.env)
                dd = dyd

                def through_daemon(context: str, no_cache: bool) -> None:
                    run([DOCKER28_CLI, "build", "-q", "--network", "none", "-t", "bench:latest",
                         *(["--no-cache"] if no_cache else []), context], dd.env)

                contenders["dockyard daemon (docker 28 CLI)"] = through_daemon
            except RuntimeError as e:
                print(f"dockyard daemon not measured: {e}", file=sys.stderr)
                notes.append(f"dockyard daemon not measured: {e}")
        if not args.no_docker:
            try:
                docker = Dockerd()
                docker.start()
                run([DOCKER_CLI, "import", "-c", 'CMD ["sh"]', tar, "busybox:latest"], docker.env)
                dk = docker

                def legacy(context: str, no_cache: bool) -> None:
                    run([DOCKER_CLI, "build", "-q", "--network", "none", "-t", "bench:latest",
                         *(["--no-cache"] if no_cache else []), context], dict(dk.env, DOCKER_BUILDKIT="0"))

                def buildkit(context: str, no_cache: bool) -> None:
                    run([DOCKER_CLI, "build", "-q", "--network", "none", "-t", "bench:latest",
                         *(["--no-cache"] if no_cache else []), context], dict(dk.env, DOCKER_BUILDKIT="1"))

                contenders["docker legacy"] = legacy
                contenders["docker BuildKit"] = buildkit
            except RuntimeError as e:
                print(f"docker not measured: {e}", file=sys.stderr)
                docker = None

        for fn in contenders.values():  # warm-up: base images unpacked, daemons warm
            fn(ctx["simple"], True)
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr, flush=True)
            loads.append(os.getloadavg()[0])
            for name, fn in contenders.items():
                results.setdefault((name, "cold"), []).append(timed(lambda f=fn: f(ctx["simple"], True)))
                results.setdefault((name, "cached"), []).append(timed(lambda f=fn: f(ctx["simple"], False)))
                results.setdefault((name, "two stages"), []).append(timed(lambda f=fn: f(ctx["two"], True)))
        builder.close()
        svc.close()
        if docker is not None:
            notes.insert(0, f"Docker {docker.version} (Debian's dockerd, private data root), its 20.10 CLI")
    finally:
        if docker is not None:
            docker.stop()
        if dyd is not None:
            dyd.stop()
        remove_tree(work)
    loads.append(os.getloadavg()[0])

    names = list(dict.fromkeys(n for n, _ in results))
    lines = ["| contender | cold (`--no-cache`) | cached (nothing changed) | two stages (2 x `sleep 1`) |",
             "|---|---|---|---|"]
    for n in names:
        cells = [f"{statistics.median(results[(n, s)]) * 1000:.0f} ms" for s in ("cold", "cached", "two stages")]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    notes.append(
        f"Medians of {args.rounds} interleaved rounds, wall time of one whole build each (CLI process "
        f"start included where there is a CLI). Cold: `FROM busybox`, `RUN`, `COPY` of 1 MiB, `RUN`; "
        f"every build uses `--network none`. Machine: {os.cpu_count()} cores, kernel {platform.release()}, "
        f"shared with other work (1-min load average {min(loads):.1f}–{max(loads):.1f}); run at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, {time.time() - started:.0f} s in all")
    body = "\n".join(lines) + "\n\n" + "".join(f"- {n}\n" for n in notes)
    print(body)
    if args.write_doc:
        write_doc(body, shlex.join([".venv/bin/python", "bench/build.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
