"""Registry client benchmark: dockyard's pull/push against skopeo's, same registries.

In one run, interleaved (who goes first alternates every round), against
both ``dockyard registry`` and Debian's distribution registry
(``docker-registry``), each started here on a free loopback port with
private storage and stopped by its PID at the end:

- push: ``distribution.client.push`` from a dockyard image store (in this
  process) against ``skopeo copy oci-archive:… docker://…`` of the same
  image (saved once, untimed, with ``dockyard image save --format oci``);
  every round starts both registries afresh, so nothing is skipped or mounted;
- pull: ``distribution.client.pull`` into a fresh, empty store against
  ``skopeo copy docker://… oci:DIR`` into a fresh directory.

The image is Debian's busybox-static rootfs plus ``--size-mb`` MiB of
incompressible random data in ``--files`` files (one layer, as ``import``
makes). MB are 10^6 bytes of blobs (config + layers). ``sync`` runs
(untimed) before each timed operation. Docker's engine numbers come with
the daemon (``bench/registry.py``). Prints a markdown table.

Usage (as root): ``.venv/bin/python bench/registry_client.py [--rounds 3] [--size-mb 100] [--files 4]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited {proc.returncode}") from None
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def start_ours(work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
                             "--root", str(work / "ours"), "--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/v2/", proc)
    return f"127.0.0.1:{port}", proc


def start_distribution(work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    cfg = work / "distribution.yml"
    cfg.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                   f"    rootdirectory: {work / 'distribution'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/v2/", proc)
    return f"127.0.0.1:{port}", proc


def make_image(work: Path, size_mb: int, files: int) -> tuple[str, int]:
    from dockyard.busybox import make_rootfs
    from dockyard.images import ImageService

    rootfs = work / "rootfs"
    make_rootfs(str(rootfs))
    per = size_mb * (1 << 20) // files
    for i in range(files):
        d = rootfs / "data" / f"d{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        with open(d / f"f{i}", "wb") as f:
            for _ in range(per // (1 << 20)):
                f.write(os.urandom(1 << 20))
    with ImageService.open(str(work / "src"), snapshotter="native") as svc:
        img = svc.import_image(str(rootfs), "bench/big:latest", changes=['CMD ["sh"]'])
        size = img.size + img.manifest.config.size
        with open(work / "big.oci.tar", "wb") as out:
            svc.save(["bench/big:latest"], out, format="oci")
    shutil.rmtree(rootfs)
    return str(work / "src"), size


def timed(fn: object) -> float:
    subprocess.run(["sync"], check=True)
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--files", type=int, default=4)
    args = ap.parse_args()

    from dockyard.distribution.client import pull, push
    from dockyard.images import ImageService

    work = Path(tempfile.mkdtemp(prefix="dy-bench-regclient-"))
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[tuple[str, str, str], list[float]] = {}
    try:
        src_root, size = make_image(work, args.size_mb, args.files)
        src = ImageService.open(src_root, snapshotter="native")
        names = ("dockyard registry", "distribution")
        for rnd in range(args.rounds):
            # Fresh registries every round: no blob of an earlier round is there
            # to skip or to mount (both clients would mount from earlier repos).
            for p in procs:
                p.terminate()
                p.wait()
            procs.clear()
            registries = {}
            for name, start in zip(names, (start_ours, start_distribution), strict=True):
                rwork = work / f"r{rnd}"
                rwork.mkdir(exist_ok=True)
                host, proc = start(rwork)
                procs.append(proc)
                registries[name] = host
            for reg, host in registries.items():
                order = ["dockyard", "skopeo"] if rnd % 2 == 0 else ["skopeo", "dockyard"]
                for who in order:
                    repo = f"{host}/bench/{who}{rnd}:latest"
                    if who == "dockyard":
                        src.tag("bench/big:latest", repo)
                        dt = timed(lambda repo=repo: push(src, repo))
                    else:
                        dt = timed(lambda repo=repo: skopeo("copy", "--dest-tls-verify=false",
                                                            f"oci-archive:{work / 'big.oci.tar'}",
                                                            f"docker://{repo}"))
                    results.setdefault((reg, "push", who), []).append(size / MB / dt)
                for who in order:
                    repo = f"{host}/bench/dockyard{rnd}:latest"
                    dest = work / f"pull-{who}-{rnd}"
                    if who == "dockyard":
                        dst = ImageService.open(str(dest), snapshotter="native")
                        dt = timed(lambda repo=repo, dst=dst: pull(dst, repo))
                        dst.close()
                    else:
                        dt = timed(lambda repo=repo, dest=dest: skopeo("copy", "--src-tls-verify=false",
                                                                       f"docker://{repo}", f"oci:{dest}"))
                    shutil.rmtree(dest, ignore_errors=True)
                    results.setdefault((reg, "pull", who), []).append(size / MB / dt)
        src.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)

    def cell(v: list[float]) -> str:
        return f"{statistics.median(v):.0f} ({min(v):.0f}–{max(v):.0f})"

    print(f"image: {size / MB:.1f} MB of blobs; {args.rounds} rounds; MB/s, median (min–max)\n")
    print("| registry | op | dockyard client | skopeo | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for reg in names:
        for op in ("push", "pull"):
            ours, ref = results[(reg, op, "dockyard")], results[(reg, op, "skopeo")]
            print(f"| {reg} | {op} | {cell(ours)} | {cell(ref)} | "
                  f"{statistics.median(ours) / statistics.median(ref):.2f}× |")


if __name__ == "__main__":
    main()
