"""A write burst for the kill -9 test: 8 concurrent writers create keys in
the sqlite store at argv[1] and print ``key revision`` for each write the
store acknowledged, flushed at once, until killed."""

from __future__ import annotations

import asyncio
import sys

from dockyard.cluster.store import open_store


async def main(path: str) -> None:
    store = open_store(f"sqlite://{path}?compact-interval=0")

    async def writer(w: int) -> None:
        i = 0
        while True:
            key = f"/registry/burst/{w}/{i:06}"
            kv = await store.create(key, key.encode() * 20)
            sys.stdout.write(f"{key} {kv.mod_revision}\n")
            sys.stdout.flush()
            i += 1

    await asyncio.gather(*(writer(w) for w in range(8)))


asyncio.run(main(sys.argv[1]))
