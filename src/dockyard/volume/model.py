"""Volume records, and the JSON Docker's ``volume inspect`` prints.

``Volume`` is the record the service keeps (``store.py``); ``inspect_doc``
turns it into the Engine API's ``Volume`` object (swagger v1.50): ``Name``,
``Driver``, ``Mountpoint``, ``CreatedAt`` (RFC 3339), ``Status`` (plugins
only), ``Labels``, ``Scope``, ``Options`` (null when none, as Go's nil map
encodes) and ``UsageData`` (``Size``, ``RefCount``) when asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec


class Volume(msgspec.Struct, kw_only=True):
    Name: str
    Driver: str = "local"
    CreatedAt: str = ""
    Labels: dict[str, str] = msgspec.field(default_factory=dict)
    Options: dict[str, str] = msgspec.field(default_factory=dict)
    Scope: str = "local"
    Anonymous: bool = False
    # The container whose create made this anonymous volume ("" for named ones
    # and ``volume create``'s): what the start-up clean-up and a failed create
    # may remove. Never shown in inspect (Docker has no such field).
    MadeFor: str = ""


class UsageData(msgspec.Struct, kw_only=True):
    Size: int = -1
    RefCount: int = 0


def now_rfc3339() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def inspect_doc(v: Volume, mountpoint: str, *, status: dict[str, Any] | None = None,
                usage: UsageData | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "CreatedAt": v.CreatedAt,
        "Driver": v.Driver,
        "Labels": dict(v.Labels),
        "Mountpoint": mountpoint,
        "Name": v.Name,
        "Options": dict(v.Options) or None,
        "Scope": v.Scope,
    }
    if status:
        doc["Status"] = status
    if usage is not None:
        doc["UsageData"] = {"Size": usage.Size, "RefCount": usage.RefCount}
    return doc
