"""Cluster store micro-benchmark: sqlite against etcd, side by side.

For each backend, on the same disk, in interleaved rounds (sqlite etcd,
etcd sqlite, ...), medians quoted:

- puts/s, 1 client: sequential creates, each acknowledged (fsynced) before
  the next is sent;
- puts/s, 16 clients: 16 concurrent writers (sqlite group-commits them);
- update latency: one compare-and-swap update, awaited, as the API server's
  PUT does;
- watch latency: from sending an update to a watcher receiving its event,
  for 1 and for 100 watchers (the time until the last of them has it);
- list: 5,000 keys of ~1 KiB under one prefix, in one call and in pages of
  500 (kubectl's chunk size);
- loop stall: the longest the event loop went without running a 1 ms timer
  during the 16-client burst (sqlite's work runs on threads; this shows it
  stays off the loop).

etcd is Debian's etcd-server 3.4, one member on loopback started for the
run (``cluster.store.etcd.launch``), reached through its JSON gateway as
dockyard does; it is the reference (ratio = sqlite / etcd, > 1 is better for
rates, < 1 better for times).

Usage: ``.venv/bin/python bench/store.py [--rounds 3] [--n 1000] [--dir /var/tmp] [--write-doc]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import tempfile
import time

import benchdoc  # bench/ is on sys.path when a benchmark runs as a script

from dockyard.cluster.store import Store, open_store
from dockyard.cluster.store.etcd import launch

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks.md")
BEGIN, END = "<!-- bench/store.py: begin -->", "<!-- bench/store.py: end -->"
VALUE = os.urandom(700)  # a small ConfigMap's worth

# metric -> True when higher is better
METRICS = {
    "puts/s, 1 client": True,
    "puts/s, 16 clients": True,
    "update p50 ms": False,
    "update p99 ms": False,
    "watch, 1 watcher p50 ms": False,
    "watch, 1 watcher p99 ms": False,
    "watch, 100 watchers p50 ms": False,
    "watch, 100 watchers p99 ms": False,
    "list 5,000 keys, one call ms": False,
    "list 5,000 keys, pages of 500 ms": False,
    "loop stall during 16-client burst, max ms": False,
}


async def puts(store: Store, prefix: str, clients: int, n: int) -> float:
    per = n // clients

    async def client(c: int) -> None:
        for i in range(per):
            await store.create(f"{prefix}{c}/{i:06}", VALUE)

    t = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    return per * clients / (time.perf_counter() - t)


async def update_latency(store: Store, key: str, n: int) -> list[float]:
    kv = await store.create(key, VALUE)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        kv = await store.update(key, VALUE, kv.mod_revision)
        out.append(time.perf_counter() - t)
    return out


async def watch_latency(store: Store, prefix: str, watchers: int, n: int) -> list[float]:
    key = prefix + "w"
    kv = await store.create(key, VALUE)
    got: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(watchers)]
    start = kv.mod_revision + 1

    async def watcher(q: asyncio.Queue[int]) -> None:
        async for batch in store.watch(prefix, start):
            for e in batch:
                q.put_nowait(e.kv.mod_revision)

    tasks = [asyncio.create_task(watcher(q)) for q in got]
    await asyncio.sleep(0.5)  # let every watch be established
    out = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            kv = await store.update(key, VALUE, kv.mod_revision)
            for q in got:
                while await q.get() != kv.mod_revision:
                    pass
            out.append(time.perf_counter() - t)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return out


async def list_times(store: Store, prefix: str, n: int) -> tuple[float, float]:
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with sem:
            await store.create(f"{prefix}{i:06}", VALUE + os.urandom(300))

    await asyncio.gather(*(one(i) for i in range(n)))
    whole = paged = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        result = await store.list(prefix)
        whole = min(whole, time.perf_counter() - t)
        assert len(result.items) == n
        t = time.perf_counter()
        seen, start = 0, ""
        while True:
            page = await store.list(prefix, limit=500, start_key=start, revision=result.revision)
            seen += len(page.items)
            if not page.more:
                break
            start = page.items[-1].key + "\0"
        paged = min(paged, time.perf_counter() - t)
        assert seen == n
    return whole, paged


async def ticker(lags: list[float]) -> None:
    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(max(0.0, time.perf_counter() - t - 0.001))


def q(xs: list[float], quantile: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(quantile * len(xs)))] * 1000


async def run(url: str, n: int, tag: str) -> dict[str, float]:
    store = open_store(url)
    p = f"/registry/{tag}/"
    try:
        r: dict[str, float] = {}
        r["puts/s, 1 client"] = await puts(store, p + "b1/", 1, n)
        lags: list[float] = []
        ticking = asyncio.create_task(ticker(lags))
        r["puts/s, 16 clients"] = await puts(store, p + "b16/", 16, n * 4)
        ticking.cancel()
        r["loop stall during 16-client burst, max ms"] = q(lags, 1.0)
        lat = await update_latency(store, p + "lat", 200)
        r["update p50 ms"], r["update p99 ms"] = q(lat, 0.5), q(lat, 0.99)
        w1 = await watch_latency(store, p + "w1/", 1, 200)
        r["watch, 1 watcher p50 ms"], r["watch, 1 watcher p99 ms"] = q(w1, 0.5), q(w1, 0.99)
        w100 = await watch_latency(store, p + "w100/", 100, 50)
        r["watch, 100 watchers p50 ms"] = q(w100, 0.5)
        r["watch, 100 watchers p99 ms"] = q(w100, 0.99)
        whole, paged = await list_times(store, p + "list/", 5000)
        r["list 5,000 keys, one call ms"] = whole * 1000
        r["list 5,000 keys, pages of 500 ms"] = paged * 1000
        return r
    finally:
        await store.close()


def table(results: dict[str, list[dict[str, float]]]) -> str:
    def med(backend: str, metric: str) -> float:
        return statistics.median(r[metric] for r in results[backend])

    def fmt(x: float) -> str:
        return f"{x:.0f}" if x >= 100 else f"{x:.2f}"

    lines = [
        "| metric | sqlite | etcd 3.4 | sqlite vs etcd |",
        "| --- | ---: | ---: | ---: |",
    ]
    for metric, higher_better in METRICS.items():
        s, e = med("sqlite", metric), med("etcd", metric)
        ratio = (s / e if higher_better else e / s) if s and e else float("nan")
        lines.append(f"| {metric} | {fmt(s)} | {fmt(e)} | {ratio:.1f}× {'faster' if ratio >= 1 else 'slower'} |")
    return "\n".join(lines) + "\n"


def write_doc(text_table: str, command: str, rounds: int) -> None:
    machine = (
        f"{os.cpu_count()} cores, kernel {platform.release()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f}"
    )
    section = (
        f"{BEGIN}\n## Cluster store: sqlite (embedded) against etcd 3.4\n\n"
        f"Command: `{command}` ({machine}). Medians of {rounds} interleaved rounds; etcd is one\n"
        "local member reached through its JSON gateway, as dockyard uses it. Every write is\n"
        "durable when acknowledged on both (sqlite: WAL with synchronous=FULL; etcd: its WAL\n"
        "fsync). sqlite's 1-client rate is one fsync per write and swings with the shared\n"
        "disk's load; with 16 clients its writer thread commits them in groups. etcd's\n"
        "100-watcher figure is 100 HTTP streams parsed by one Python client; an API server\n"
        "keeps one store watch and fans out itself.\n\n"
        f"{text_table}{END}\n"
    )
    benchdoc.write_section(BEGIN, END, section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=1000, help="puts for one client (x4 for 16)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dy-bench-store-", dir=args.dir)
    results: dict[str, list[dict[str, float]]] = {"sqlite": [], "etcd": []}
    try:
        with launch.cluster(1, os.path.join(work, "etcd")) as members:
            urls = {
                "sqlite": f"sqlite://{work}/state.db?compact-interval=0",
                "etcd": f"etcd://{members[0].address}",
            }
            for i in range(args.rounds):
                order = ["sqlite", "etcd"] if i % 2 == 0 else ["etcd", "sqlite"]
                for backend in order:
                    results[backend].append(asyncio.run(run(urls[backend], args.n, f"r{i}")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(results)
    print(text, end="")
    if args.write_doc:
        command = f".venv/bin/python bench/store.py --rounds {args.rounds} --n {args.n} --write-doc"
        write_doc(text, command, args.rounds)


if __name__ == "__main__":
    main()
