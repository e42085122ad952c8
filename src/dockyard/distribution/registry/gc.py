"""Online garbage collection of the registry's blobs.

Roots: every manifest of every repository (tagged or not: an untagged
manifest is still pullable by digest), and every blob linked less than
``storage.gc.grace`` seconds ago — a client pushes layers first and the
manifest that references them last, and those layers must survive the
gap. The content store then marks from those roots along the manifests'
``gc.ref.content`` labels (config, layers, index entries), and also keeps
whatever a live lease holds: each open upload session leases its ingest,
so an upload in progress is never collected; the lease is what protects it,
not the age of its last write. Sessions idle for ``storage.uploads.ttl``
are ended first (``Uploads.expire_idle``), and then their bytes go too.

Everything runs under the registry lock held exclusive: uploads commit and
manifests are pushed under the same lock held shared, so a blob is always
either leased, linked recently, or referenced when GC looks. Links to
blobs that are gone are dropped afterwards.

With ``delete_untagged`` (``garbage-collect --delete-untagged``) manifests
that no tag reaches are deleted first: reached are the tagged ones, the
entries of a reached index, and the referrers (``subject``) of a reached
manifest — so a multi-arch image's platform manifests and an image's
signatures stay.

``collect`` is what ``dockyard registry garbage-collect`` and the server's
periodic collection (``storage.gc.interval``) run; both are safe while the
server serves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dockyard.content import LABEL_GC_REF_CONTENT
from dockyard.content.errors import NotFoundError

from .storage import Registry
from .uploads import Uploads


@dataclass(frozen=True)
class Collected:
    blobs_removed: list[str]
    bytes_freed: int
    uploads_removed: list[str]
    manifests_removed: list[str] = field(default_factory=list)  # "repo@digest"


def collect(
    registry: Registry, *, grace: float | None = None, delete_untagged: bool = False
) -> Collected:
    cfg = registry.config
    grace = cfg.gc_grace if grace is None else grace
    with registry.lock(exclusive=True):
        now = time.time()
        ended = Uploads(registry).expire_idle(now)
        untagged = _delete_untagged(registry) if delete_untagged else []
        roots = registry.db.manifest_digests() | registry.db.recent_links(now - grace)
        # Every upload's ingest is leased, and no manifest is being written
        # (that holds the lock shared): an unleased ingest is debris.
        result = registry.content.gc(roots, ingest_cutoff=0)
        removed = [str(d) for d in result.removed]
        if removed:
            registry.db.drop_links(removed)
    return Collected(removed, result.bytes_freed, ended, untagged)


def _delete_untagged(registry: Registry) -> list[str]:
    """Remove the manifests nothing needs: not tagged, not in a kept index, and
    not a referrer (``subject``) of a kept manifest. Runs under the GC lock."""
    removed: list[str] = []
    for repo, records in registry.db.repo_manifests().items():
        keep = registry.db.tagged(repo)
        by_subject: dict[str, list[str]] = {}
        for rec in records:
            if rec.subject:
                by_subject.setdefault(rec.subject, []).append(rec.digest)
        stack = list(keep)
        while stack:
            d = stack.pop()
            more = list(by_subject.get(d, []))
            try:
                labels = registry.content.info(d).labels
            except NotFoundError:
                labels = {}
            more += [v for k, v in labels.items() if k.startswith(f"{LABEL_GC_REF_CONTENT}.m.")]
            for child in more:
                if child not in keep:
                    keep.add(child)
                    stack.append(child)
        for rec in records:
            if rec.digest not in keep and registry.db.delete_manifest(repo, rec.digest):
                removed.append(f"{repo}@{rec.digest}")
    return removed
