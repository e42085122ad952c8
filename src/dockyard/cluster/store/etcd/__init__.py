"""The etcd backend: a real etcd v3 cluster through its JSON gateway.

Entry points: ``open(url)`` (used by ``cluster.store.open_store``) with
``etcd://host:port[,host:port...][?compact-interval=300]``, and
``EtcdStore(endpoints)``. The store compacts etcd every compact-interval
seconds (0: never) as kube-apiserver does (``compact.py``).
``launch`` starts private etcd members for tests, benchmarks and development.

The contract maps onto etcd as Kubernetes' own storage layer maps it:

- create  txn: if create_revision(key) == 0 then put else range
- update  txn: if mod_revision(key) == expected (or, unconditional, if the
          key exists) then put (keeping the lease) else range
- delete  txn: the same compare, then delete_range with prev_kv
- list    range [prefix, prefix_end) with limit and revision; count with
          count_only
- watch   a streaming ``/v3/watch`` (``watch.py``)
- lease   ``/v3/lease/grant``; etcd itself deletes the keys when it expires

Values over ``MAX_VALUE_BYTES`` are refused before they are sent (etcd's
own default request limit is the same 1.5 MiB, key and framing included).

Imports from dockyard: ``cluster.store`` only.
"""

from __future__ import annotations

import builtins
import urllib.parse
from collections.abc import AsyncGenerator

from .. import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyValue,
    ListResult,
    validate,
)
from . import watch as _watch
from . import write
from .compact import Compactor
from .gateway import DEADLINE, Gateway, Json, b64, kv, prefix_end
from .gateway import revision as header_revision

DEFAULT_COMPACT_INTERVAL = 300.0  # kube-apiserver's --etcd-compaction-interval


def open(url: str) -> EtcdStore:
    """``etcd://host:port[,host:port...][?compact-interval=S]`` (plain http)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "etcd" or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"store url {url!r}: expected etcd://host:port[,host:port...]")
    interval = DEFAULT_COMPACT_INTERVAL
    for name, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if name != "compact-interval":
            raise ValueError(
                f"store url {url!r}: unknown option {name!r} (expected compact-interval)"
            )
        try:
            interval = float(values[-1])
        except ValueError:
            interval = -1
        if not interval >= 0:  # also NaN
            raise ValueError(
                f"store url {url!r}: compact-interval must be a number >= 0, got {values[-1]!r}"
            )
    endpoints = []
    for member in parts.netloc.split(","):
        host, sep, port = member.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"store url {url!r}: member {member!r} is not host:port")
        endpoints.append(f"http://{member}")
    return EtcdStore(endpoints, compact_interval=interval)


class EtcdStore:
    def __init__(
        self,
        endpoints: builtins.list[str],
        *,
        deadline: float = DEADLINE,
        compact_interval: float = 0,
    ) -> None:
        """``endpoints``: member URLs (``http://host:port``); ``deadline``:
        seconds to keep trying other members before UnavailableError;
        ``compact_interval``: seconds between automatic compactions (0: none;
        ``open`` defaults to kube-apiserver's 300)."""
        self._gw = Gateway(endpoints, deadline)
        self._compactor = Compactor(self._gw, compact_interval)
        # The compactor needs the running loop: it starts with the first call.
        self._gw.on_first_use = self._compactor.start

    @property
    def endpoints(self) -> builtins.list[str]:
        return self._gw.endpoints

    async def _range(self, body: Json, at: int) -> Json:
        return await self._gw.call("kv/range", body, idempotent=True, at=at)

    # -- the contract -----------------------------------------------------

    async def current_revision(self) -> int:
        return header_revision(await self._range({"key": b64("\0"), "count_only": True}, 0))

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        validate.key(key)
        body: Json = {"key": b64(key)}
        if revision > 0:
            body["revision"] = str(revision)
        kvs = (await self._range(body, revision)).get("kvs", [])
        return kv(kvs[0]) if kvs else None

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_key: str = ""
    ) -> ListResult:
        validate.prefix(prefix)
        validate.prefix(start_key)
        validate.limit(limit)
        start = max(prefix, start_key).encode() or b"\0"
        body: Json = {"key": b64(start), "range_end": b64(prefix_end(prefix.encode()))}
        if revision > 0:
            body["revision"] = str(revision)
        if limit > 0:
            body["limit"] = str(limit)
        answer = await self._range(body, revision)
        items = [kv(j) for j in answer.get("kvs", [])]
        # etcd's header revision is the head even for a read at an older one.
        at = revision if revision > 0 else header_revision(answer)
        return ListResult(items, at, bool(answer.get("more")))

    async def count(self, prefix: str) -> int:
        validate.prefix(prefix)
        body = {
            "key": b64(prefix.encode() or b"\0"),
            "range_end": b64(prefix_end(prefix.encode())),
            "count_only": True,
        }
        return int((await self._range(body, 0)).get("count", 0))

    async def create(self, key: str, value: bytes, lease: int = 0) -> KeyValue:
        validate.key(key)
        validate.value(key, value)
        return await write.create(self._gw, key, bytes(value), lease)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        validate.key(key)
        validate.value(key, value)
        return await write.update(self._gw, key, bytes(value), expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        validate.key(key)
        return await write.delete(self._gw, key, expected_revision)

    async def grant_lease(self, ttl: int) -> int:
        validate.ttl(ttl)
        answer = await self._gw.call("lease/grant", {"TTL": str(ttl)}, idempotent=True)
        return int(answer["ID"])

    def watch(self, prefix: str, start_revision: int = 0) -> AsyncGenerator[builtins.list[Event], None]:
        validate.prefix(prefix)
        return _watch.watch(self._gw, prefix, start_revision)

    async def compact(self, revision: int) -> None:
        try:
            await self._gw.call(
                "kv/compaction", {"revision": str(revision)}, idempotent=True, at=revision
            )
        except CompactedError as e:
            raise CompactedError(revision, e.compact_revision) from None
        except FutureRevisionError as e:
            raise FutureRevisionError(revision, e.current_revision) from None

    async def close(self) -> None:
        await self._compactor.stop()
        await self._gw.close()


