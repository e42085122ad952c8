"""The cluster store: etcd's role, behind one small contract.

Keys are strings shaped like Kubernetes' etcd keys
(``/registry/<resource>/<namespace>/<name>``), values are bytes. Every
change gets the next revision of one store-wide counter; each key remembers
the revision that created it and the one that last modified it, exactly as
etcd's ``create_revision`` and ``mod_revision`` (the API server turns
``mod_revision`` into ``metadata.resourceVersion``).

Backends (chosen by ``open_store(url)``; every built-in listed there):

- ``sqlite``  the embedded default: one append-only revision table (kine's
  idea), incremental compaction + vacuum, watch fan-out in process.
- ``etcd``    a real etcd v3 through its JSON gateway (``/v3/kv/range`` …).

Both pass one conformance suite (``tests/cluster/store``).

Entry point: ``open_store(url)`` (``BACKENDS`` lists every built-in):

- ``sqlite:///var/lib/dockyard/server/state.db`` or a plain path; options as
  a query: ``?compact-interval=300&compact-retention=1000`` (seconds between
  automatic compactions, 0 to turn them off; revisions kept behind the head).
- ``etcd://127.0.0.1:2379,10.0.0.2:2379``: several members, failed over in
  turn; ``?compact-interval=300`` (kube-apiserver's compaction loop; 0: off).

Imports from dockyard: nothing outside ``cluster.store``.
"""

from __future__ import annotations

import builtins
import importlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """One change seen by a watch. ``kv`` is the new value (for DELETE: the
    key with the deletion's revision as ``mod_revision`` and the last value);
    ``prev_kv`` the value before, where known."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: builtins.list[KeyValue]
    revision: int  # the store revision the list was read at
    more: bool  # True when ``limit`` cut the list short


class StoreError(Exception):
    """Base of the store's errors.

        StoreError
        ├── KeyExistsError       create of a key that exists
        ├── KeyNotFoundError     update/delete of a key that does not exist
        ├── ConflictError        compare-and-swap lost: the revision moved on
        ├── CompactedError       read or watch from a revision already compacted
        ├── FutureRevisionError  read or compaction at a revision not written yet
        ├── LeaseNotFoundError   create with a lease that does not exist (or expired)
        ├── ValueTooLargeError   a value over the size limit (1.5 MiB, etcd's)
        └── UnavailableError     the backend cannot be reached
    """


class KeyExistsError(StoreError):
    pass


class KeyNotFoundError(StoreError):
    pass


class ConflictError(StoreError):
    def __init__(self, key: str, current: KeyValue | None) -> None:
        super().__init__(f"revision conflict on {key}")
        self.key = key
        self.current = current


class CompactedError(StoreError):
    def __init__(self, revision: int, compact_revision: int) -> None:
        super().__init__(
            f"revision {revision} has been compacted (oldest available: {compact_revision})"
        )
        self.revision = revision
        self.compact_revision = compact_revision


class FutureRevisionError(StoreError):
    def __init__(self, revision: int, current_revision: int) -> None:
        super().__init__(
            f"revision {revision} is a future revision (current: {current_revision})"
        )
        self.revision = revision
        self.current_revision = current_revision


class LeaseNotFoundError(StoreError):
    pass


class ValueTooLargeError(StoreError):
    pass


class UnavailableError(StoreError):
    pass


MAX_VALUE_BYTES = 1_572_864  # 1.5 MiB, etcd's default request limit


class Store(Protocol):
    """The contract every backend keeps. All methods are coroutines."""

    async def current_revision(self) -> int: ...

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        """The key's value now, or at ``revision`` (CompactedError if gone)."""

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_key: str = ""
    ) -> ListResult:
        """Keys under ``prefix`` in key order, starting at ``start_key``
        (inclusive; for ``continue`` tokens), at most ``limit`` (0: all)."""

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes, lease: int = 0) -> KeyValue:
        """Create; KeyExistsError if the key exists."""

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Compare-and-swap on ``mod_revision``; ConflictError if it moved,
        KeyNotFoundError if the key is gone. ``expected_revision=0`` means
        unconditional."""

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Delete and return the last value; ConflictError/KeyNotFoundError.
        The returned ``mod_revision`` is the deletion's revision, as in a
        DELETE event's ``kv``."""

    def watch(
        self, prefix: str, start_revision: int = 0
    ) -> AsyncGenerator[builtins.list[Event], None]:
        """Events for keys under ``prefix`` after ``start_revision`` - 1
        (i.e. from ``start_revision`` inclusive; 0: from now), batched.
        CompactedError if ``start_revision`` is older than the compaction.
        The watch starts when first iterated ("now" for 0 means then). Cancel
        the iteration (or ``aclose`` it) to stop watching; closing the store
        ends it with UnavailableError."""

    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision`` (current values are kept)."""

    async def grant_lease(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds (etcd's leases); its id goes to
        ``create(..., lease=id)``. When it expires, every key attached to it
        is deleted (DELETE events, as for any delete). Kubernetes keeps
        Events on leases so that they go away by themselves."""

    async def close(self) -> None: ...


# Every built-in backend: URL scheme -> module with ``open(url) -> Store``.
# Imported lazily so a sqlite user never loads aiohttp and the reverse.
BACKENDS: dict[str, str] = {
    "sqlite": "dockyard.cluster.store.sqlite",
    "etcd": "dockyard.cluster.store.etcd",
}


def open_store(url: str) -> Store:
    """Open the store named by ``url``.

    >>> store = open_store("sqlite:///var/lib/dockyard/server/state.db")
    >>> store = open_store("etcd://127.0.0.1:2379,127.0.0.1:22379")

    A string without a scheme is a path to a sqlite database.
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"store url: expected sqlite:///path or etcd://host:port, got {url!r}")
    scheme, sep, _ = url.partition("://")
    if not sep:
        scheme = "sqlite"
    if scheme not in BACKENDS:
        raise ValueError(
            f"store url {url!r}: unknown backend {scheme!r} (expected one of {sorted(BACKENDS)})"
        )
    module = importlib.import_module(BACKENDS[scheme])
    store: Store = module.open(url)
    return store
