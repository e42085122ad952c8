"""Mark and sweep over the content graph (containerd's garbage-collection.md).

Mark: start from the roots — blobs labelled ``containerd.io/gc.root``, the
digests the caller passes (the image store's targets), and whatever a live
lease holds — and follow ``containerd.io/gc.ref.content[.<name>]`` labels
from each reached blob to its children. Sweep: remove every blob file not
reached, then the records of blobs whose files are gone. Expired leases
are dropped first, so what only they held goes in the same pass.

Ingests are not in the graph: one is removed when no writer holds it, no
live lease holds it, and it has not been written for ``ingest_cutoff``
seconds. A ``kill -9`` mid-write thus leaves an ingest that either a
resumed write picks up or a later ``gc()`` removes.

The caller holds the store's GC lock exclusively: no commit runs meanwhile.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dockyard.oci.digest import Digest, parse_digest
from dockyard.oci.errors import InvalidDigestError

from . import LABEL_GC_REF_CONTENT, LABEL_GC_ROOT, GCResult
from .ingest import remove_ingest_dir

if TYPE_CHECKING:
    from .local import LocalStore
    from .metadata import Metadata

DEFAULT_INGEST_CUTOFF = 24 * 3600.0


def is_content_ref(key: str) -> bool:
    return key == LABEL_GC_REF_CONTENT or key.startswith(LABEL_GC_REF_CONTENT + ".")


def children(labels: dict[str, str]) -> list[Digest]:
    """The digests a blob's labels point to (bad values are ignored: a label
    cannot make GC fail, only fail to protect)."""
    out = []
    for k, v in labels.items():
        if is_content_ref(k):
            try:
                out.append(parse_digest(v))
            except InvalidDigestError:
                continue
    return out


def collect(
    store: LocalStore,
    meta: Metadata,
    roots: Iterable[Digest],
    ingest_cutoff: float | None,
) -> GCResult:
    now = time.time()
    leased_content, leased_ingests, expired = meta.live_resources(now)
    files = store.usage()
    rows = meta.all_blobs()

    # --- mark ---
    stack: list[str] = [*roots, *leased_content]
    stack += [d for d, (_, labels) in rows.items() if LABEL_GC_ROOT in labels]
    marked: set[str] = set()
    while stack:
        d = stack.pop()
        if d in marked:
            continue
        marked.add(d)
        entry = rows.get(d)
        if entry is not None:
            stack.extend(c for c in children(entry[1]) if c not in marked)

    # --- sweep blobs ---
    removed: list[Digest] = []
    freed = 0
    for d, size in sorted(files.items()):
        if d in marked:
            continue
        try:
            os.unlink(store.blob_path(d))
        except FileNotFoundError:
            continue
        removed.append(d)
        freed += size
    gone = [d for d in rows if d not in files or d in removed]
    if gone:
        meta.delete_blobs(gone)

    # --- sweep ingests ---
    cutoff = DEFAULT_INGEST_CUTOFF if ingest_cutoff is None else ingest_cutoff
    ingests_removed: list[str] = []
    base = os.path.join(store.root, "ingest")
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name)
        try:
            with open(os.path.join(path, "ref"), encoding="utf-8") as f:
                ref = f.read()
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            ref = ""
        if ref and ref in leased_ingests:
            continue
        n = remove_ingest_dir(path, only_if=lambda st: now - st.st_mtime >= cutoff)
        if n >= 0:
            ingests_removed.append(ref or name)
            freed += n

    return GCResult(
        removed=removed, bytes_freed=freed, ingests_removed=ingests_removed, leases_expired=expired
    )
