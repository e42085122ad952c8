"""Benchmark of ``dockyard server`` (issue 10): the API server over the
sqlite store and over a real etcd.

For each datastore, against a fresh ``dockyard server --port 0``:

- time from starting the process to ``/readyz`` answering 200;
- RSS of the server when idle (after start) and right after the load;
- create N ConfigMaps and M pods with C concurrent clients (writes/s);
- list all pods (median latency of 5 full lists, JSON, no paging);
- 100 watchers on one namespace, one ConfigMap update: time until every
  watcher has the MODIFIED event (fan-out latency, median/max).

Anchors (issue 10): k3s users report ~500 MB idle and 1.6 GB with a
workload; kind takes 12–17 s to create a cluster. Targets: ready < 3 s,
< 150 MiB idle, list of 5,000 pods < 1 s, watch fan-out < 50 ms.

    .venv/bin/python bench/apiserver.py [--configmaps 10000 --pods 5000 --clients 10]
                                         [--datastores sqlite,etcd] [--write-doc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchdoc  # bench/ is on sys.path when a benchmark runs as a script
import httpx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "benchmarks.md")
BEGIN, END = "<!-- bench/apiserver.py: begin -->", "<!-- bench/apiserver.py: end -->"
DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_server(base: Path, datastore: str) -> tuple[subprocess.Popen[bytes], str, float]:
    log = base / "server.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([DOCKYARD, "server", "--port", "0", "--data-dir", str(base / "data"),
                                 "--write-kubeconfig", str(base / "kubeconfig"), "--datastore", datastore],
                                stdout=out, stderr=subprocess.STDOUT)
    while True:
        m = re.search(r"listening on (https://[\d.]+:\d+)", log.read_text())
        if m:
            break
        if proc.poll() is not None or time.monotonic() - started > 30:
            raise RuntimeError(f"server did not start:\n{log.read_text()}")
        time.sleep(0.01)
    url = m.group(1)
    ctx = ssl.create_default_context(cafile=str(base / "data" / "tls" / "ca.crt"))
    while True:
        try:
            if httpx.get(url + "/readyz", verify=ctx, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    return proc, url, time.monotonic() - started


def client(base: Path, url: str, limits: int = 20) -> httpx.AsyncClient:
    tls = base / "data" / "tls"
    ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    ctx.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
    return httpx.AsyncClient(base_url=url, verify=ctx, timeout=60,
                             limits=httpx.Limits(max_connections=limits, max_keepalive_connections=limits))


def pod(name: str) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": {"app": "bench", "n": name[-1]}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


async def create_many(c: httpx.AsyncClient, path: str, bodies: list[dict[str, object]], clients: int) -> float:
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            r = await c.post(path, json=body)
            if r.status_code != 201:
                raise RuntimeError(f"create failed: {r.status_code} {r.text[:200]}")

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return len(bodies) / (time.monotonic() - started)


async def watch_fanout(c: httpx.AsyncClient, watchers: int) -> list[float]:
    ns = "/api/v1/namespaces/bench-watch"
    await c.post("/api/v1/namespaces", json={"metadata": {"name": "bench-watch"}})
    created = (await c.post(f"{ns}/configmaps", json={"metadata": {"name": "target"}, "data": {"v": "0"}})).json()
    rv = created["metadata"]["resourceVersion"]
    got: list[float] = []
    ready = asyncio.Event()
    opened = 0
    sent_at = 0.0

    async def one() -> None:
        nonlocal opened
        async with c.stream("GET", f"{ns}/configmaps", params={"watch": "1", "resourceVersion": rv}) as r:
            opened += 1
            if opened == watchers:
                ready.set()
            async for line in r.aiter_lines():
                if json.loads(line)["type"] == "MODIFIED":
                    got.append(time.monotonic() - sent_at)
                    return

    tasks = [asyncio.create_task(one()) for _ in range(watchers)]
    await asyncio.wait_for(ready.wait(), 30)
    await asyncio.sleep(0.5)
    sent_at = time.monotonic()
    await c.patch(f"{ns}/configmaps/target", json={"data": {"v": "1"}},
                  headers={"Content-Type": "application/merge-patch+json"})
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    return got


async def run_load(base: Path, url: str, args: argparse.Namespace, pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    async with client(base, url, args.clients) as c:
        await c.post("/api/v1/namespaces", json={"metadata": {"name": "bench"}})
        cms = [{"metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 64}} for i in range(args.configmaps)]
        out["configmaps_per_s"] = await create_many(c, "/api/v1/namespaces/bench/configmaps", cms, args.clients)
        pods = [pod(f"pod-{i}") for i in range(args.pods)]
        out["pods_per_s"] = await create_many(c, "/api/v1/namespaces/bench/pods", pods, args.clients)
        out["rss_load_mib"] = rss_mib(pid)
        times = []
        for _ in range(5):
            started = time.monotonic()
            r = await c.get("/api/v1/pods")
            assert len(r.json()["items"]) == args.pods
            times.append(time.monotonic() - started)
        out["list_pods_ms"] = statistics.median(times) * 1000
    async with client(base, url, args.watchers + 5) as c:
        lat = await watch_fanout(c, args.watchers)
        out["fanout_median_ms"] = statistics.median(lat) * 1000
        out["fanout_max_ms"] = max(lat) * 1000
    return out


def bench_one(datastore: str, args: argparse.Namespace) -> dict[str, float]:
    base = Path(tempfile.mkdtemp(prefix="dy-bench-api-", dir="/tmp"))
    etcd_ctx = None
    try:
        if datastore == "etcd":
            sys.path.insert(0, os.path.join(REPO, "src"))
            from dockyard.cluster.store.etcd import launch

            etcd_ctx = launch.cluster(1, str(base / "etcd"))
            members = etcd_ctx.__enter__()
            store_url = "etcd://" + members[0].address
        else:
            store_url = "sqlite"
        proc, url, ready_s = start_server(base, store_url)
        try:
            time.sleep(1.0)
            result = {"ready_s": ready_s, "rss_idle_mib": rss_mib(proc.pid)}
            try:
                result.update(asyncio.run(run_load(base, url, args, proc.pid)))
            except Exception:
                print((base / "server.log").read_text()[-3000:], file=sys.stderr)
                raise
            return result
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    finally:
        if etcd_ctx is not None:
            etcd_ctx.__exit__(None, None, None)
        shutil.rmtree(base, ignore_errors=True)


def table(results: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    rows = [
        ("ready after start (s)", "ready_s", "{:.2f}", "< 3 (kind: 12–17 s)"),
        ("RSS idle (MiB)", "rss_idle_mib", "{:.0f}", "< 150 (k3s: ~500 MB)"),
        (f"ConfigMap creates/s ({args.clients} clients)", "configmaps_per_s", "{:.0f}", ""),
        (f"pod creates/s ({args.clients} clients)", "pods_per_s", "{:.0f}", ""),
        ("RSS after the load (MiB)", "rss_load_mib", "{:.0f}", "(k3s: 1.6 GB with a workload)"),
        (f"list all {args.pods} pods (ms, median of 5)", "list_pods_ms", "{:.0f}", "< 1000"),
        (f"watch fan-out to {args.watchers} watchers, median (ms)", "fanout_median_ms", "{:.1f}", "< 50"),
        (f"watch fan-out to {args.watchers} watchers, max (ms)", "fanout_max_ms", "{:.1f}", "< 50"),
    ]
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " | target |",
             "| --- | " + " | ".join("---:" for _ in names) + " | --- |"]
    for label, key, fmt, target in rows:
        cells = [fmt.format(results[n][key]) if key in results[n] else "—" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines) + "\n"


def write_doc(text: str, command: str) -> None:
    machine = f"{os.cpu_count()} cores, kernel {platform.release()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    section = (f"{BEGIN}\n## API server: `dockyard server` on sqlite and on etcd\n\n"
               f"Command: `{command}` ({machine}). Clients are httpx in one asyncio process on the\n"
               f"same machine (they share its CPU with the server).\n\n{text}{END}\n")
    benchdoc.write_section(BEGIN, END, section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configmaps", type=int, default=10_000)
    ap.add_argument("--pods", type=int, default=5_000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--datastores", default="sqlite,etcd")
    ap.add_argument("--write-doc", action="store_true")
    args = ap.parse_args()
    results = {}
    for ds in args.datastores.split(","):
        results[ds] = bench_one(ds, args)
        print(ds, json.dumps({k: round(v, 2) for k, v in results[ds].items()}), flush=True)
    text = table(results, args)
    print(text)
    if args.write_doc:
        write_doc(text, "python bench/apiserver.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
