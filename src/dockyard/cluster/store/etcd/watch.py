"""Watch through the gateway: one streaming ``POST /v3/watch`` per watch.

The gateway answers a watch create request with a never-ending response of
newline-separated JSON messages, ``{"result": WatchResponse}``: first one
with ``created: true`` (its header revision is "now"), then one per batch of
events. A start revision older than the compaction gets a message with
``compact_revision`` and ``canceled: true``.

When the member's stream breaks (it was stopped, the connection failed, or
the member lost its leader - we ask for "require leader", as clientv3 does),
the watch re-opens on the next member from the revision after the last one
it delivered, so the caller sees neither a gap nor a repeat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

from .. import CompactedError, Event, UnavailableError
from .gateway import (
    TRANSPORT,
    UNAVAILABLE,
    Gateway,
    GatewayError,
    Json,
    b64,
    kv,
    prefix_end,
    revision,
)


def _event(j: Json) -> Event:
    cur = kv(j["kv"])
    prev = kv(j["prev_kv"]) if "prev_kv" in j else None
    if j.get("type") == "DELETE":
        # etcd's DELETE kv carries only key and mod_revision; the contract
        # wants the last value, which prev_kv has.
        if prev is not None:
            cur = type(cur)(cur.key, prev.value, prev.create_revision, cur.mod_revision, prev.lease)
        return Event("DELETE", cur, prev)
    return Event("PUT", cur, prev)


async def watch(
    gw: Gateway, prefix: str, start: int, *, exact: bool = False
) -> AsyncGenerator[list[Event], None]:
    """Events under ``prefix`` (``exact``: of that one key) from ``start``."""
    key = prefix.encode() or b"\0"
    end = prefix_end(prefix.encode())
    next_rev = start if start > 0 else 0
    deadline = time.monotonic() + gw.deadline
    tried = 0
    last: Exception | None = None
    while True:
        url = gw.url
        request: Json = {"key": b64(key), "prev_kv": True}
        if not exact:
            request["range_end"] = b64(end)
        if next_rev:
            request["start_revision"] = str(next_rev)
        try:
            async with gw.stream(url, "watch", {"create_request": request}) as messages:
                async for message in messages:
                    if "error" in message:
                        error = message["error"]
                        code = int(error.get("grpc_code", 0))
                        if code == UNAVAILABLE:  # "no leader": this member is cut off
                            last = GatewayError(code, str(error.get("message")))
                            break
                        raise GatewayError(code, str(error.get("message")))
                    result: Json = message.get("result", {})
                    if result.get("canceled"):
                        compacted = int(result.get("compact_revision", 0))
                        if compacted:
                            raise CompactedError(next_rev, compacted)
                        reason = str(result.get("cancel_reason"))
                        if "no leader" in reason:
                            last = GatewayError(UNAVAILABLE, reason)
                            break
                        raise GatewayError(0, f"watch canceled: {reason}")
                    if result.get("created"):
                        deadline = time.monotonic() + gw.deadline
                        tried = 0
                        if not next_rev:
                            next_rev = revision(result) + 1
                    events = [_event(e) for e in result.get("events", ())]
                    if events:
                        next_rev = events[-1].kv.mod_revision + 1
                        yield events
                else:
                    last = GatewayError(UNAVAILABLE, f"{url} ended the watch stream")
        except (*TRANSPORT, ValueError) as e:  # ValueError: a line cut short
            last = e
        except GatewayError as e:
            if e.code != UNAVAILABLE:  # refused at once: "no leader" here
                raise
            last = e
        # The stream broke or ended: carry on from next_rev on the next member.
        gw.next_member(url)
        tried += 1
        if time.monotonic() > deadline:
            raise UnavailableError(
                f"watch on {prefix!r}: no etcd member of {', '.join(gw.endpoints)} answered:"
                f" {last!r}"
            ) from last
        if tried % len(gw.endpoints) == 0:
            await asyncio.sleep(0.1)
