"""The write verbs as etcd transactions, and what to do when a write's
outcome is unknown.

Each verb is one txn whose compare guards it (create: the key does not
exist; update/delete: its mod_revision is the expected one, or it exists),
with a range of the key as the failure branch so a lost compare tells us why.

Unknown outcomes. When the member dies mid-request, or answers "request
timed out" (typically: the proposal went to a leader that just died), the
write may or may not have been applied. Kubernetes' client gives up there;
we send the same guarded txn again, to the next member, until ``deadline``.
The guard makes the retry safe: it cannot apply twice. If it now fails its
compare, we look at the key to tell "our first attempt was applied" from
"someone else got there":

- create: the key exists, was never modified since, and holds our value;
- update: it moved past the expected revision and holds our value;
- delete: the key is gone and its DELETE event is the one we asked for
  (found by a short watch from before the first attempt).

A concurrent writer that wrote the very same bytes would be taken for us -
harmless, as the key then holds exactly what the caller asked for.
"""

from __future__ import annotations

import asyncio
import time

from .. import (
    ConflictError,
    Event,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    StoreError,
    UnavailableError,
)
from . import watch as _watch
from .gateway import Ambiguous, Gateway, Json, b64, kv, revision

RESOLVE_WATCH_TIMEOUT = 2.0


def _exists_compare(key: str, expected_revision: int) -> Json:
    if expected_revision:
        return {"key": b64(key), "target": "MOD", "result": "EQUAL",
                "mod_revision": str(expected_revision)}
    return {"key": b64(key), "target": "CREATE", "result": "GREATER", "create_revision": "0"}


def _current(answer: Json) -> KeyValue | None:
    kvs = answer["responses"][0].get("response_range", {}).get("kvs", [])
    return kv(kvs[0]) if kvs else None


async def _txn(gw: Gateway, key: str, compare: Json, success: Json) -> tuple[bool, Json, bool]:
    """Run the guarded txn; (succeeded, answer, an earlier attempt was ambiguous)."""
    body = {"compare": [compare], "success": [success],
            "failure": [{"request_range": {"key": b64(key)}}]}
    deadline = time.monotonic() + gw.deadline
    ambiguous = False
    while True:
        try:
            answer = await gw.call("kv/txn", body, idempotent=False)
        except Ambiguous as e:
            ambiguous = True
            if time.monotonic() > deadline:
                raise UnavailableError(
                    f"write of {key}: outcome unknown and no member answered in time: {e}"
                ) from e
            continue
        return bool(answer.get("succeeded")), answer, ambiguous


async def create(gw: Gateway, key: str, value: bytes, lease: int) -> KeyValue:
    put: Json = {"key": b64(key), "value": b64(value)}
    if lease:
        put["lease"] = str(lease)
    compare = {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
    ok, answer, ambiguous = await _txn(gw, key, compare, {"request_put": put})
    if ok:
        rev = revision(answer)
        return KeyValue(key, value, rev, rev, lease)
    current = _current(answer)
    if current is None:  # gone again in between: nothing we can say for sure
        raise UnavailableError(f"create of {key}: outcome unknown")
    if ambiguous and current.value == value and current.create_revision == current.mod_revision:
        return current
    raise KeyExistsError(f"key {key} already exists (mod_revision {current.mod_revision})")


async def update(gw: Gateway, key: str, value: bytes, expected_revision: int) -> KeyValue:
    put = {"key": b64(key), "value": b64(value), "prev_kv": True, "ignore_lease": True}
    ok, answer, ambiguous = await _txn(
        gw, key, _exists_compare(key, expected_revision), {"request_put": put}
    )
    if ok:
        prev = kv(answer["responses"][0]["response_put"]["prev_kv"])
        return KeyValue(key, value, prev.create_revision, revision(answer), prev.lease)
    current = _current(answer)
    if current is None:
        raise KeyNotFoundError(f"key {key} not found")
    if ambiguous and current.value == value and current.mod_revision > expected_revision:
        return current
    raise ConflictError(key, current)


async def delete(gw: Gateway, key: str, expected_revision: int) -> KeyValue:
    if not gw.seen:  # a fresh client: learn "now", to search for our delete from
        await gw.call("kv/range", {"key": b64(key), "count_only": True}, idempotent=True)
    before = max(gw.seen, expected_revision)
    ok, answer, ambiguous = await _txn(
        gw, key, _exists_compare(key, expected_revision),
        {"request_delete_range": {"key": b64(key), "prev_kv": True}},
    )
    if ok:
        prev = kv(answer["responses"][0]["response_delete_range"]["prev_kvs"][0])
        return KeyValue(key, prev.value, prev.create_revision, revision(answer), prev.lease)
    current = _current(answer)
    if current is not None:
        raise ConflictError(key, current)
    if ambiguous and before:
        found = await _deletion(gw, key, before + 1, revision(answer), expected_revision)
        if found is not None:
            return found.kv
    raise KeyNotFoundError(f"key {key} not found")


async def _deletion(
    gw: Gateway, key: str, start: int, head: int, expected_revision: int
) -> Event | None:
    """The DELETE of ``key`` in [start, head] that removed the expected revision."""
    events = _watch.watch(gw, key, start, exact=True)
    try:
        async with asyncio.timeout(RESOLVE_WATCH_TIMEOUT):
            async for batch in events:
                for e in batch:
                    if e.kv.mod_revision > head:
                        return None
                    if e.type == "DELETE" and e.prev_kv is not None and (
                        not expected_revision or e.prev_kv.mod_revision == expected_revision
                    ):
                        return e
    except (TimeoutError, StoreError):
        return None
    finally:
        await events.aclose()
    return None
