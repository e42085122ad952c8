"""Content store micro-benchmark: blob write and read throughput.

Compares, on the same file and disk, in one run:

- write: ``write_blob`` (hash while writing + fsync + link + SQLite record)
  against ``sha256sum FILE`` followed by ``cp FILE DEST && sync DEST``
  (the same work done by two GNU tools);
- read: ``LocalStore.open`` read through in 1 MiB chunks against ``cat``;
- read + verify: reading while re-hashing against ``sha256sum`` alone.

Usage: ``.venv/bin/python bench/content.py [--size-mb 128] [--dir /var/tmp]``.
Prints MB/s for each; the page cache is warm for every contender alike
(the source is read once before timing).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable

from dockyard.content import LocalStore, write_blob
from dockyard.oci.digest import Digester

CHUNK = 1 << 20


def _time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--size-mb", type=int, default=128)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dy-bench-content-", dir=args.dir)
    try:
        src = os.path.join(work, "src")
        size = args.size_mb << 20
        with open(src, "wb") as f:
            for _ in range(args.size_mb):
                f.write(os.urandom(CHUNK))
        with open(src, "rb") as f:  # warm the page cache
            digest = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()

        n = [0]

        def ours_write() -> None:
            n[0] += 1
            root = os.path.join(work, f"store{n[0]}")
            store = LocalStore(root)
            with open(src, "rb") as f:
                write_blob(store, "bench", f, digest, size)
            store.close()
            shutil.rmtree(root)

        def gnu_write() -> None:
            dest = os.path.join(work, "copy")
            subprocess.run(["sha256sum", src], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["cp", src, dest], check=True)
            subprocess.run(["sync", dest], check=True)
            os.unlink(dest)

        store = LocalStore(os.path.join(work, "read"))
        with open(src, "rb") as f:
            write_blob(store, "bench", f, digest, size)

        def ours_read() -> None:
            with store.open(digest) as f:
                while f.read(CHUNK):
                    pass

        def ours_verify() -> None:
            d = Digester()
            with store.open(digest) as f:
                while chunk := f.read(CHUNK):
                    d.update(chunk)
            assert d.digest() == digest

        blob = store.blob_path(digest)

        def cat() -> None:
            subprocess.run(["cat", blob], check=True, stdout=subprocess.DEVNULL)

        def sha256sum() -> None:
            subprocess.run(["sha256sum", blob], check=True, stdout=subprocess.DEVNULL)

        rows = [
            ("write", "dockyard write_blob", ours_write),
            ("write", "sha256sum + cp + sync", gnu_write),
            ("read", "dockyard open/read", ours_read),
            ("read", "cat", cat),
            ("read+verify", "dockyard read + sha256", ours_verify),
            ("read+verify", "sha256sum", sha256sum),
        ]
        print(f"blob of {args.size_mb} MiB in {args.dir}, best of {args.repeat}")
        print(f"{'what':<12} {'who':<24} {'seconds':>8} {'MB/s':>8}")
        for what, who, fn in rows:
            t = _time(fn, args.repeat)
            print(f"{what:<12} {who:<24} {t:8.3f} {size / t / 1e6:8.0f}")
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
