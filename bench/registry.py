"""Registry benchmark: ``dockyard registry`` against distribution (Debian's
``docker-registry``), driven by skopeo, in one interleaved run.

Measured per registry, each round on a fresh instance and a fresh storage
root (so skopeo can neither skip nor mount a blob it pushed before):

- push: ``skopeo copy oci:<layout> docker://…`` of a ~100 MB image
  (4 gzip layers of random data), MB/s of layer bytes;
- pull: ``skopeo copy docker://… oci:<fresh dir>``, MB/s;
- latency on one kept-open connection (httpx): ``GET /v2/``, manifest
  ``HEAD`` (with the Accept header clients send) and blob ``HEAD``; median
  of 300 each.

Usage: ``.venv/bin/python bench/registry.py [--size-mb 100] [--rounds 3] [--write-doc]``.
Installs ``docker-registry`` with apt if it is missing (only here: no test
needs it). ``--write-doc`` replaces this benchmark's section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench/registry.py: begin -->", "<!-- bench/registry.py: end -->"
ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layout(dest: Path, size_mb: int, layers: int = 4) -> tuple[str, int]:
    """An OCI layout of ``layers`` gzip layers of random data; (manifest digest, layer bytes)."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    descs, diff_ids, total = [], [], 0
    for _ in range(layers):
        raw = os.urandom((size_mb << 20) // layers)
        gz = gzip.compress(raw, compresslevel=1)
        (blobs / digest(gz)[7:]).write_bytes(gz)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": digest(gz), "size": len(gz)})
        diff_ids.append(digest(raw))
        total += len(gz)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    (blobs / digest(config)[7:]).write_bytes(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest(config), "size": len(config)},
                           "layers": descs}).encode()
    (blobs / digest(manifest)[7:]).write_bytes(manifest)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    return digest(manifest), total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited {proc.returncode}")
        try:
            if httpx.get(url + "/v2/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Instance:
    url: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_dockyard(work: Path) -> Instance:
    port = free_port()
    log = open(work / "dockyard.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
         "--root", str(work / "root"), "--addr", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url, proc)
    return Instance(url, proc)


def start_distribution(work: Path) -> Instance:
    port = free_port()
    cfg = work / "config.yml"
    cfg.write_text(json.dumps({  # JSON is YAML
        "version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(work / "root")},
                    "delete": {"enabled": True}, "cache": {"blobdescriptor": "inmemory"}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    log = open(work / "distribution.log", "ab")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url, proc)
    return Instance(url, proc)


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, capture_output=True)


def latency(c: httpx.Client, method: str, path: str, headers: dict[str, str], n: int) -> float:
    for _ in range(20):  # warm up
        c.request(method, path, headers=headers)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = c.request(method, path, headers=headers)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code)
    return statistics.median(times) * 1000


@dataclass
class Results:
    push: list[float] = field(default_factory=list)  # MB/s
    pull: list[float] = field(default_factory=list)
    get_v2: list[float] = field(default_factory=list)  # ms
    head_manifest: list[float] = field(default_factory=list)
    head_blob: list[float] = field(default_factory=list)


def one_round(start: Callable[[Path], Instance], work: Path, layout: Path, manifest: str,
              layer_bytes: int, res: Results, n: int) -> None:
    work.mkdir(parents=True)
    inst = start(work)
    try:
        host = inst.url.split("://", 1)[1]
        ref = f"docker://{host}/bench/image:latest"
        t = time.perf_counter()
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", ref)
        res.push.append(layer_bytes / 1e6 / (time.perf_counter() - t))
        out = work / "pulled"
        t = time.perf_counter()
        skopeo("copy", "--src-tls-verify=false", ref, f"oci:{out}:latest")
        res.pull.append(layer_bytes / 1e6 / (time.perf_counter() - t))
        layer = json.loads((layout / "blobs" / "sha256" / manifest[7:]).read_bytes())["layers"][0]
        with httpx.Client(base_url=inst.url, timeout=30) as c:
            res.get_v2.append(latency(c, "GET", "/v2/", {}, n))
            res.head_manifest.append(latency(c, "HEAD", "/v2/bench/image/manifests/latest",
                                             {"Accept": ACCEPT}, n))
            res.head_blob.append(latency(c, "HEAD", f"/v2/bench/image/blobs/{layer['digest']}", {}, n))
    finally:
        inst.stop()
        shutil.rmtree(work, ignore_errors=True)


def ensure_distribution() -> None:
    if shutil.which("docker-registry"):
        return
    print("installing docker-registry with apt (benchmark only)…", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker-registry"],
                   check=True, env=env)


def table(results: dict[str, Results]) -> str:
    ref = results["distribution (docker-registry 2.8)"]
    rows = [
        ("skopeo push", "MB/s", "push", True),
        ("skopeo pull", "MB/s", "pull", True),
        ("GET /v2/", "ms", "get_v2", False),
        ("manifest HEAD", "ms", "head_manifest", False),
        ("blob HEAD", "ms", "head_blob", False),
    ]
    lines = ["| measure | " + " | ".join(results) + " | dockyard vs distribution |",
             "| --- | " + " | ".join("---:" for _ in results) + " | ---: |"]
    for label, unit, attr, higher_better in rows:
        cells = []
        for r in results.values():
            vals = getattr(r, attr)
            cells.append(f"{statistics.median(vals):.2f} {unit} ({min(vals):.2f}–{max(vals):.2f})")
        ours = statistics.median(getattr(results["dockyard registry"], attr))
        theirs = statistics.median(getattr(ref, attr))
        ratio = ours / theirs if higher_better else theirs / ours
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio:.2f}× {'faster' if ratio >= 1 else 'slower'} |")
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description="dockyard registry vs distribution, with skopeo")
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--write-doc", action="store_true")
    args = ap.parse_args()
    ensure_distribution()
    work = Path(tempfile.mkdtemp(prefix="dy-bench-registry-", dir=args.dir))
    contenders: dict[str, Callable[[Path], Instance]] = {
        "dockyard registry": start_dockyard,
        "distribution (docker-registry 2.8)": start_distribution,
    }
    results = {name: Results() for name in contenders}
    try:
        layout = work / "layout"
        manifest, layer_bytes = make_layout(layout, args.size_mb)
        for i in range(args.rounds):
            for name, start in contenders.items():  # interleaved: A B A B …
                one_round(start, work / f"r{i}-{name.split()[0]}", layout, manifest, layer_bytes,
                          results[name], args.latency_n)
                print(f"round {i + 1} {name}: push {results[name].push[-1]:.0f} MB/s, "
                      f"pull {results[name].pull[-1]:.0f} MB/s, GET /v2/ "
                      f"{results[name].get_v2[-1]:.2f} ms, manifest HEAD "
                      f"{results[name].head_manifest[-1]:.2f} ms", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = table(results)
    print(out)
    if args.write_doc:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        section = (
            "## Registry: skopeo push/pull and request latency\n\n"
            f"Command: `.venv/bin/python bench/registry.py --write-doc` ({os.cpu_count()} cores, "
            f"kernel {platform.release()}, {when}). A {layer_bytes / 1e6:.0f} MB image (4 gzip "
            f"layers), plain HTTP on loopback, no auth; each round on a fresh instance and "
            f"storage root; latencies are medians of {args.latency_n} requests on one kept-open "
            f"connection; medians of {args.rounds} rounds (min–max).\n\n" + out
        )
        write_doc(section)


if __name__ == "__main__":
    main()
