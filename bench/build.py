"""Build benchmark: dockyard's builder against Docker's legacy builder and BuildKit.

In one run, each contender with private state:

- Docker: Debian's ``dockerd`` 20.10 (docker.io) with its own data root
  (``Dockerd`` from ``bench/images.py``), driven by Debian's docker 20.10
  CLI: ``DOCKER_BUILDKIT=0`` (legacy builder) and ``DOCKER_BUILDKIT=1``
  (the BuildKit inside dockerd). If it cannot start, dockyard is still
  measured.
- dockyard: ``dockyard build`` (a new Python process per build, as
  ``docker build`` is a new CLI process) and ``Builder.build`` in this
  process (what the engine's ``POST /build`` will run).

Every contender starts from the same ``busybox:latest`` (Debian's
busybox-static rootfs, imported with ``CMD ["sh"]``). Builds use
``--network=none`` (no bridge here). Scenarios, ``--rounds`` times each,
median reported:

- cold: ``FROM busybox`` + ``RUN`` + ``COPY`` of a 1 MiB file + ``RUN``,
  with ``--no-cache``;
- cached: the same build again, nothing changed;
- two stages: two independent stages of ``sleep 1`` each and a final stage
  copying from both, ``--no-cache`` (about one stage's time if parallel).

Run as root: ``.venv/bin/python bench/build.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from images import Dockerd, remove_tree

DOCKER_CLI = "/usr/bin/docker"  # Debian's 20.10 CLI: DOCKER_BUILDKIT=1 works without buildx
DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-docker", action="store_true")
    args = ap.parse_args()

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
        for _ in range(args.rounds):
            for name, fn in contenders.items():
                results.setdefault((name, "cold"), []).append(timed(lambda f=fn: f(ctx["simple"], True)))
                results.setdefault((name, "cached"), []).append(timed(lambda f=fn: f(ctx["simple"], False)))
                results.setdefault((name, "two stages"), []).append(timed(lambda f=fn: f(ctx["two"], True)))
        builder.close()
        svc.close()
    finally:
        if docker is not None:
            docker.stop()
        remove_tree(work)

    names = list(dict.fromkeys(n for n, _ in results))
    print("| contender | cold | cached | two stages (2 x 1 s) |\n|---|---|---|---|")
    for n in names:
        cells = [f"{statistics.median(results[(n, s)]) * 1000:.0f} ms" for s in ("cold", "cached", "two stages")]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
