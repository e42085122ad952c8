"""Watch: the store's change feed turned into Kubernetes watch events.

``GET …?watch=1`` answers with a chunked stream of JSON lines
``{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {…}}``.

- ``resourceVersion`` unset or ``"0"``: first every current object as ADDED
  (kube-apiserver's "synthetic" events), then changes after that list.
  ``sendInitialEvents=true`` does the same and ends the initial part with a
  BOOKMARK annotated ``k8s.io/initial-events-end: "true"``.
- ``resourceVersion=N``: changes after N; N older than the store's
  compaction gives one ERROR event carrying a 410 ``Expired`` Status.
- Selectors: an object that stops matching is sent as DELETED, one that
  starts matching as ADDED (as the watch cache does).
- ``allowWatchBookmarks``: a BOOKMARK with the last revision sent, after
  ``BOOKMARK_EVERY`` seconds of quiet.

The store watch runs in its own task feeding a queue, so waiting for the
next event with a timeout never cancels the store's iterator mid-step.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from dockyard.cluster.store import CompactedError, Event, KeyValue, StoreError

from .errors import APIError, Gone
from .resources import ResourceType
from .storage import Storage, decode

Obj = dict[str, Any]
BOOKMARK_EVERY = 5.0


def _bookmark(rtype: ResourceType, revision: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(revision)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": rtype.kind, "apiVersion": rtype.api_version,
                                           "metadata": meta}}


# One change fans out to every watcher of its prefix: decode it once. The
# objects are shared between watchers and never mutated after decoding.
_DECODED: collections.OrderedDict[tuple[str, int, str, int], Obj] = collections.OrderedDict()
_DECODED_MAX = 512


def _decoded(kv: KeyValue, rtype: ResourceType) -> Obj:
    key = (kv.key, kv.mod_revision, rtype.api_version, len(kv.value))
    obj = _DECODED.get(key)
    if obj is None:
        obj = decode(kv, rtype)
        _DECODED[key] = obj
        if len(_DECODED) > _DECODED_MAX:
            _DECODED.popitem(last=False)
    return obj


def _translate(event: Event, match: Callable[[Obj], bool], rtype: ResourceType) -> Obj | None:
    if event.type == "DELETE":
        obj = _decoded(event.kv, rtype)
        return {"type": "DELETED", "object": obj} if match(obj) else None
    obj = _decoded(event.kv, rtype)
    now = match(obj)
    if event.prev_kv is not None:
        before = match(_decoded(event.prev_kv, rtype))
    else:
        before = event.kv.create_revision != event.kv.mod_revision and now
    if now and before:
        return {"type": "MODIFIED", "object": obj}
    if now:
        return {"type": "ADDED", "object": obj}
    if before:
        return {"type": "DELETED", "object": obj}
    return None


async def watch(
    storage: Storage,
    rtype: ResourceType,
    namespace: str,
    *,
    resource_version: str = "",
    label_selector: str = "",
    field_selector: str = "",
    bookmarks: bool = False,
    send_initial_events: bool | None = None,
    timeout: float = 0,
) -> AsyncGenerator[Obj, None]:
    match = storage.matcher(rtype, label_selector, field_selector)
    deadline = time.monotonic() + timeout if timeout else None
    last = 0
    if resource_version in ("", "0") or send_initial_events:
        listed = await storage.list(rtype, namespace, label_selector=label_selector,
                                    field_selector=field_selector)
        for item in listed["items"]:
            yield {"type": "ADDED", "object": item}
        last = int(listed["metadata"]["resourceVersion"])
        if send_initial_events and bookmarks:
            yield _bookmark(rtype, last, initial_end=True)
    else:
        try:
            last = int(resource_version)
        except ValueError:
            yield {"type": "ERROR", "object": APIError(
                f'invalid resourceVersion "{resource_version}"').status()}
            return
    queue: asyncio.Queue[list[Event] | BaseException] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for batch in storage.store.watch(rtype.key_prefix(namespace), last + 1):
                queue.put_nowait(batch)
        except (StoreError, OSError) as exc:
            queue.put_nowait(exc)

    task = asyncio.create_task(pump())
    try:
        while True:
            wait = BOOKMARK_EVERY if bookmarks else None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = min(wait, left) if wait is not None else left
            try:
                item = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if bookmarks and (deadline is None or deadline > time.monotonic()):
                    yield _bookmark(rtype, last)
                continue
            if isinstance(item, CompactedError):
                yield {"type": "ERROR", "object": Gone(
                    f"too old resource version: {item.revision} ({item.compact_revision})").status()}
                return
            if isinstance(item, BaseException):
                yield {"type": "ERROR", "object": APIError(f"watch failed: {item}").status()}
                return
            for event in item:
                out = _translate(event, match, rtype)
                last = max(last, event.kv.mod_revision)
                if out is not None:
                    yield out
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
