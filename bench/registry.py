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

Then ``docker push``/``docker pull`` through two engines against the same
registry (distribution by default, ``--engine-registry dockyard`` for ours),
driven by the same docker 28 CLI (``/usr/local/bin/docker``): a private
Debian ``dockerd`` and a private ``dockyard daemon``, each with its own
roots and socket and ``--insecure-registry`` for one fixed loopback port on
which a fresh registry starts per engine per round (both engines remember
what a registry holds and mount across repositories). The image is
``--size-mb`` MiB of random data in 4 uncompressed tar layers, loaded with
``docker load`` (untimed) before each timed push; each timed pull goes into
a store emptied by ``docker rmi``. Engines alternate who goes first; MB/s of
the image's layer tar bytes; the verdict on issue 7's target (our daemon's
pull and push at least twice Docker's). ``--no-engines`` skips this part.
Every daemon and registry is stopped by its PID, every dir removed.

Usage (as root): ``.venv/bin/python bench/registry.py [--size-mb 100] [--rounds 3] [--write-doc]``.
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
import shlex
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

import benchdoc  # bench/ is on sys.path when a benchmark runs as a script
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


def start_dockyard(work: Path, port: int = 0) -> Instance:
    port = port or free_port()
    log = open(work / "dockyard.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
         "--root", str(work / "root"), "--addr", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url, proc)
    return Instance(url, proc)


def start_distribution(work: Path, port: int = 0) -> Instance:
    port = port or free_port()
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


# --- docker pull/push through the two engines --------------------------------------

DOCKER_CLI = "/usr/local/bin/docker"  # the same docker 28 CLI drives both engines
IMAGE = "bench/image:latest"


def make_docker_archive(dest: Path, size_mb: int, layers: int = 4) -> int:
    """A ``docker save``-format archive of ``IMAGE``: ``layers`` uncompressed tar
    layers, each one file of random data. Returns the layers' tar bytes."""
    import io
    import tarfile

    diff_ids, names, total = [], [], 0
    with tarfile.open(dest, "w") as out:
        for i in range(layers):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as layer:
                data = os.urandom((size_mb << 20) // layers)
                info = tarfile.TarInfo(f"data{i}.bin")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                layer.addfile(info, io.BytesIO(data))
            raw = buf.getvalue()
            diff_ids.append(digest(raw))
            names.append(f"{diff_ids[-1][7:]}/layer.tar")
            total += len(raw)
            info = tarfile.TarInfo(names[-1])
            info.size = len(raw)
            out.addfile(info, io.BytesIO(raw))
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        for name, blob in ((f"{digest(config)[7:]}.json", config),
                           ("manifest.json", json.dumps([{"Config": f"{digest(config)[7:]}.json",
                                                          "RepoTags": [IMAGE], "Layers": names}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            out.addfile(info, io.BytesIO(blob))
    return total


def unmount_under(path: str) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for mp in reversed(points):
        if mp == path or mp.startswith(path + "/"):
            subprocess.run(["umount", "-l", mp], check=False, stderr=subprocess.DEVNULL)


class Engine:
    """A private engine (``dockerd`` or ``dockyard daemon``) driven by the docker CLI.

    State goes under ``data`` (a big disk); the socket and exec root under a
    short /tmp dir (unix socket paths < 107 bytes). Stopped by its PID."""

    def __init__(self, name: str, data: Path) -> None:
        self.name, self.data = name, data
        self.short = tempfile.mkdtemp(prefix="dybr-", dir="/tmp")
        self.sock = os.path.join(self.short, "d.sock")
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}",
                    "DOCKER_CONFIG": os.path.join(self.short, "cli")}
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = ""

    def command(self, registry: str) -> list[str]:
        raise NotImplementedError

    def start(self, registry: str) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.data / "daemon.log", "ab") as log:
            self.proc = subprocess.Popen(self.command(registry), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: "
                                   f"{(self.data / 'daemon.log').read_text(errors='replace')[-600:]}")
            p = subprocess.run([DOCKER_CLI, "version", "--format", "{{.Server.Version}}"], env=self.env,
                               capture_output=True, text=True)
            if p.returncode == 0:
                self.version = p.stdout.strip()
                return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer within 60 s")

    def docker(self, *args: str) -> str:
        p = subprocess.run([DOCKER_CLI, *args], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: docker {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.after_stop()
        for d in (self.short, str(self.data)):
            unmount_under(d)
            shutil.rmtree(d, ignore_errors=True)

    def after_stop(self) -> None:
        pass


class DockerEngine(Engine):
    def command(self, registry: str) -> list[str]:
        return ["dockerd", "--data-root", str(self.data / "data"),
                "--exec-root", os.path.join(self.short, "exec"),
                "--pidfile", os.path.join(self.short, "dockerd.pid"), "-H", f"unix://{self.sock}",
                "--iptables=false", "--bridge=none", "--insecure-registry", registry]

    def after_stop(self) -> None:
        # dockerd stops the containerd it started; after a SIGKILL it cannot.
        try:
            with open(os.path.join(self.short, "exec", "containerd", "containerd.pid")) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                ours = self.short.encode() in f.read()
            if ours:
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass


class DockyardEngine(Engine):
    def command(self, registry: str) -> list[str]:
        return [sys.executable, "-c", "from dockyard.cli.main import main; main()", "daemon",
                "--root", str(self.data / "root"), "--run-root", os.path.join(self.short, "run"),
                "-H", f"unix://{self.sock}", "--bridge", "none", "--insecure-registry", registry]


@dataclass
class EngineResults:
    push: list[float] = field(default_factory=list)  # MB/s of the image's layer tar bytes
    pull: list[float] = field(default_factory=list)
    push_wire: list[int] = field(default_factory=list)  # layer bytes the registry stored
    media_type: str = ""  # of the pushed layers
    pull_reused: int = 0  # "Already exists" lines in a pull into a store that should be empty


def pushed_layers(url: str) -> tuple[int, str]:
    """What the registry got: the layers' total size and their media type."""
    r = httpx.get(f"{url}/v2/bench/image/manifests/latest", headers={"Accept": ACCEPT}, timeout=30)
    r.raise_for_status()
    layers = r.json()["layers"]
    return sum(layer["size"] for layer in layers), ", ".join(sorted({layer["mediaType"] for layer in layers}))


def engine_round(engine: Engine, start: Callable[..., Instance], work: Path, port: int,
                 archive: Path, layer_bytes: int, res: EngineResults) -> None:
    """One fresh registry on ``port``: ``docker push`` of the loaded image, then
    ``docker rmi`` and ``docker pull`` into the emptied store."""
    work.mkdir(parents=True)
    inst = start_on(start, work, port)
    ref = f"127.0.0.1:{port}/bench/image:latest"
    try:
        engine.docker("load", "-i", str(archive))
        engine.docker("tag", IMAGE, ref)
        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        engine.docker("push", ref)
        res.push.append(layer_bytes / 1e6 / (time.perf_counter() - t))
        size, res.media_type = pushed_layers(inst.url)
        res.push_wire.append(size)
        engine.docker("rmi", ref, IMAGE)
        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        out = engine.docker("pull", ref)
        res.pull.append(layer_bytes / 1e6 / (time.perf_counter() - t))
        res.pull_reused += out.count("Already exists")
        engine.docker("rmi", ref)
    finally:
        inst.stop()
        shutil.rmtree(work, ignore_errors=True)


def start_on(start: Callable[..., Instance], work: Path, port: int) -> Instance:
    """Start a registry on a fixed port (the engines were told it is insecure);
    a port just freed may still be taken for a moment."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return start(work, port)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


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


def engine_table(results: dict[str, EngineResults], registry: str) -> tuple[str, str]:
    """The docker pull/push table and the target line (ours at least twice Docker's)."""
    ours, docker = results["dockyard daemon"], results["Docker's engine"]
    lines = [f"| `docker` against {registry} | " + " | ".join(results) + " | dockyard vs Docker | target (≥ 2×) |",
             "| --- | " + " | ".join("---:" for _ in results) + " | ---: | --- |"]
    verdicts = []
    for label, attr in (("docker push", "push"), ("docker pull", "pull")):
        cells = [f"{statistics.median(getattr(r, attr)):.1f} MB/s ({min(getattr(r, attr)):.1f}–"
                 f"{max(getattr(r, attr)):.1f})" for r in results.values()]
        ratio = statistics.median(getattr(ours, attr)) / statistics.median(getattr(docker, attr))
        met = ratio >= 2
        verdicts.append(f"{label} {ratio:.2f}× ({'met' if met else 'not met'})")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio:.2f}× | {'met' if met else 'not met'} |")
    wire = " | ".join(f"{statistics.median(r.push_wire) / 1e6:.1f} MB" for r in results.values())
    lines.append(f"| layer bytes stored by the registry | {wire} | | |")
    kinds = " | ".join(f"`{r.media_type}`" for r in results.values())
    lines.append(f"| pushed layer media type | {kinds} | | |")
    return "\n".join(lines), "; ".join(verdicts)


def write_doc(section: str) -> None:
    benchdoc.write_section(BEGIN, END, f"{BEGIN}\n{section}\n{END}")


def main() -> None:
    ap = argparse.ArgumentParser(description="dockyard registry vs distribution, with skopeo")
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--engine-registry", choices=["distribution", "dockyard"], default="distribution",
                    help="the registry both engines' docker pull/push go to")
    ap.add_argument("--no-engines", action="store_true", help="skip docker pull/push through the engines")
    ap.add_argument("--write-doc", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/registry.py needs root (the engines)")
    # A SIGTERM must still stop every daemon and registry and remove the dirs (the finallys).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_distribution()
    started = time.time()
    loads = [os.getloadavg()[0]]
    work = Path(tempfile.mkdtemp(prefix="dy-bench-registry-", dir=args.dir))
    contenders: dict[str, Callable[[Path], Instance]] = {
        "dockyard registry": start_dockyard,
        "distribution (docker-registry 2.8)": start_distribution,
    }
    results = {name: Results() for name in contenders}
    engines: list[Engine] = []
    engine_results: dict[str, EngineResults] = {}
    engine_start = start_distribution if args.engine_registry == "distribution" else start_dockyard
    versions: dict[str, str] = {}
    try:
        layout = work / "layout"
        manifest, layer_bytes = make_layout(layout, args.size_mb)
        archive, tar_bytes, port = work / "image.tar", 0, free_port()
        if not args.no_engines:
            tar_bytes = make_docker_archive(archive, args.size_mb)
            engines = [DockyardEngine("dockyard daemon", work / "dockyard-daemon"),
                       DockerEngine("Docker's engine", work / "dockerd")]
            for e in engines:
                e.start(f"127.0.0.1:{port}")
                versions[e.name] = e.version
                engine_results[e.name] = EngineResults()
        for i in range(args.rounds):
            for name, start in contenders.items():  # interleaved: A B A B …
                one_round(start, work / f"r{i}-{name.split()[0]}", layout, manifest, layer_bytes,
                          results[name], args.latency_n)
                print(f"round {i + 1} {name}: push {results[name].push[-1]:.0f} MB/s, "
                      f"pull {results[name].pull[-1]:.0f} MB/s, GET /v2/ "
                      f"{results[name].get_v2[-1]:.2f} ms, manifest HEAD "
                      f"{results[name].head_manifest[-1]:.2f} ms", file=sys.stderr)
            for e in engines if i % 2 == 0 else engines[::-1]:  # who goes first alternates
                er = engine_results[e.name]
                engine_round(e, engine_start, work / f"r{i}-engine", port, archive, tar_bytes, er)
                print(f"round {i + 1} {e.name}: docker push {er.push[-1]:.0f} MB/s, "
                      f"docker pull {er.pull[-1]:.0f} MB/s", file=sys.stderr)
            loads.append(os.getloadavg()[0])
    finally:
        for e in engines:
            e.stop()
        shutil.rmtree(work, ignore_errors=True)
    out = table(results)
    print(out)
    engine_out = verdict = ""
    if engine_results:
        registry_name = ("distribution (docker-registry 2.8)" if args.engine_registry == "distribution"
                         else "dockyard registry")
        engine_out, verdict = engine_table(engine_results, registry_name)
        print("\n" + engine_out + "\n\nTarget (our daemon's pull and push ≥ 2× Docker's): " + verdict)
        reused = {n: r.pull_reused for n, r in engine_results.items() if r.pull_reused}
        if reused:
            print(f"WARNING: pulls reused local layers ('Already exists'): {reused}", file=sys.stderr)
    if args.write_doc:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
        section = (
            "## Registry: skopeo push/pull and request latency\n\n"
            f"Command: `.venv/bin/python bench/registry.py {shlex.join(sys.argv[1:])}` ({os.cpu_count()} cores, "
            f"kernel {platform.release()}, {when}, {time.time() - started:.0f} s in all; machine shared "
            f"with other work: 1-min load average {min(loads):.1f}–{max(loads):.1f}). A "
            f"{layer_bytes / 1e6:.0f} MB image (4 gzip "
            f"layers), plain HTTP on loopback, no auth; each round on a fresh instance and "
            f"storage root; latencies are medians of {args.latency_n} requests on one kept-open "
            f"connection; medians of {args.rounds} rounds (min–max).\n\n" + out
        )
        if engine_results:
            cli = subprocess.run([DOCKER_CLI, "--version"], capture_output=True, text=True).stdout.strip()
            dockerd = versions.get("Docker's engine", "")
            section += (
                "\n\n### `docker push`/`docker pull` through Docker's engine and the dockyard daemon\n\n"
                f"The same docker CLI ({cli}) drives a private Debian dockerd {dockerd} "
                f"(overlay2, `--iptables=false --bridge=none`) and a private `dockyard daemon` "
                f"(`--bridge none`), both with `--insecure-registry` for a fresh {registry_name} "
                f"per engine per round on one loopback port. The image: {tar_bytes / 1e6:.0f} MB in 4 "
                f"uncompressed tar layers of random data, `docker load`ed (untimed) before each push; "
                f"each pull goes into a store emptied by `docker rmi` (untimed), and pulls what that "
                f"engine pushed. MB/s are the image's layer tar bytes over wall time of the CLI "
                f"command, so both engines are measured on the same quantity even though Docker "
                f"gzips layers on push and dockyard sends them as stored, uncompressed (last rows: what "
                f"each sent). Docker's pull also extracts every layer into overlay2; dockyard's "
                f"stores the blobs and unpacks on first use (`docker create`/`run`), as containerd's "
                f"image store does, so its pull does less work. "
                f"Engines interleaved, who goes first alternating; medians of {args.rounds} rounds (min–max)."
                f"\n\n{engine_out}\n\nTarget (issue 7: our daemon's pull and push at least twice "
                f"Docker's): {verdict}."
            )
        write_doc(section)


if __name__ == "__main__":
    main()
