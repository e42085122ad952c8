"""``Registry``: the service behind the HTTP API (blobs, manifests, tags, referrers).

Layout under the registry's root::

    <root>/content/      the content store: every blob once (layers, configs,
                         manifests), uploads as ingests, leases, GC
    <root>/registry.db   which repository holds which blob, manifest and tag
    <root>/registry.lock GC takes it exclusive; linking takes it shared

Deduplication is the content store's: a blob pushed to ten repositories is
one file and ten links. A repository serves a blob only if it is linked
there (uploaded, mounted or pushed as a manifest), so knowing a digest is
not enough to read another repository's layers.

Commits are atomic twice over: a blob appears by ``link(2)`` of a verified
file (content store), and a manifest, its tag and its link appear in one
SQLite transaction, after its blob is stored. A manifest whose blobs the
repository lacks is refused before anything is written.

Every method is synchronous; the HTTP layer runs the ones that write or
wait for the lock in a thread.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dockyard.content import LocalStore, write_blob
from dockyard.content.errors import NotFoundError
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest, digest_of

from ..errors import (
    BlobUnknownError,
    DigestInvalidError,
    ManifestBlobUnknownError,
    ManifestInvalidError,
    ManifestTooLargeError,
    ManifestUnknownError,
    NameUnknownError,
    UnsupportedError,
)
from ..names import parse_blob_digest, parse_reference
from .config import Config
from .db import ManifestRecord, RegistryDB
from .manifests import MAX_MANIFEST_BYTES, inspect


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int
    path: str


@dataclass(frozen=True)
class PushedManifest:
    digest: Digest
    subject: str | None


@dataclass(frozen=True)
class ManifestContent:
    digest: str
    media_type: str
    body: bytes


class Registry:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.root
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.content = LocalStore(os.path.join(self.root, "content"))
        self.db = RegistryDB(os.path.join(self.root, "registry.db"))
        self._lock_path = os.path.join(self.root, "registry.lock")

    def close(self) -> None:
        self.db.close()
        self.content.close()

    @contextmanager
    def lock(self, exclusive: bool = False) -> Iterator[None]:
        """The registry lock, across threads and processes (flock on a fresh fd)."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    # --- blobs -------------------------------------------------------------------------

    def stat_blob(self, repo: str, digest: str) -> BlobInfo:
        d = parse_blob_digest(digest)
        if self.db.is_linked(repo, d):
            path = self.content.blob_path(d)
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                pass
            else:
                return BlobInfo(d, size, path)
        raise BlobUnknownError(f"blob {d} is not in repository {repo}", detail={"digest": d})

    def delete_blob(self, repo: str, digest: str) -> None:
        """Unlink a blob from a repository; GC frees the bytes once nothing holds them."""
        self._check_delete()
        d = parse_blob_digest(digest)
        if not self.db.unlink_blob(repo, d):
            raise BlobUnknownError(f"blob {d} is not in repository {repo}", detail={"digest": d})

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> BlobInfo | None:
        """Link ``digest`` from ``from_repo`` into ``repo``; None when it is not there."""
        d = parse_blob_digest(digest)
        with self.lock():
            if not self.db.is_linked(from_repo, d) or not self.content.exists(d):
                return None
            self.db.link_blob(repo, d)
        return self.stat_blob(repo, d)

    # --- manifests ----------------------------------------------------------------------

    def put_manifest(
        self, repo: str, reference: str, body: bytes, content_type: str | None
    ) -> PushedManifest:
        if len(body) > MAX_MANIFEST_BYTES:
            raise ManifestTooLargeError(
                f"manifest is {len(body)} bytes, over the {MAX_MANIFEST_BYTES} byte limit"
            )
        try:
            ref = parse_reference(reference)
        except ValueError as e:
            raise ManifestInvalidError(str(e), detail={"tag": reference[:200]}) from None
        got = digest_of(body, ref.algorithm if isinstance(ref, Digest) else "sha256")
        if isinstance(ref, Digest) and got != ref:
            raise DigestInvalidError(
                f"manifest digest mismatch: the reference is {ref} but the body hashes to {got}",
                detail={"digest": ref},
            )
        info = inspect(body, content_type)
        with self.lock():
            for desc in info.blobs:
                self._require_blob(repo, desc.digest, desc.size)
            for desc in info.manifests:
                if self.db.get_manifest(repo, desc.digest) is None:
                    raise ManifestBlobUnknownError(
                        f"manifest references manifest {desc.digest}, which is not in {repo}",
                        detail={"digest": desc.digest},
                    )
            write_blob(self.content, f"manifest-{got}-{uuid.uuid4().hex}", body, got,
                       labels=info.labels)
            self.db.put_manifest(
                ManifestRecord(repo, got, info.media_type, len(body), info.artifact_type,
                               info.subject, info.annotations),
                tag=None if isinstance(ref, Digest) else ref,
            )
        return PushedManifest(got, info.subject)

    def _require_blob(self, repo: str, digest: str, size: int) -> None:
        if not self.db.is_linked(repo, digest):
            raise ManifestBlobUnknownError(
                f"manifest references blob {digest}, which is not in {repo}",
                detail={"digest": digest},
            )
        try:
            have = self.content.info(digest).size
        except NotFoundError:
            raise ManifestBlobUnknownError(
                f"manifest references blob {digest}, which is not in {repo}",
                detail={"digest": digest},
            ) from None
        if have != size:
            raise ManifestInvalidError(
                f"manifest gives blob {digest} a size of {size} bytes; it has {have}",
                detail={"digest": digest, "size": size},
            )

    def resolve(self, repo: str, reference: str) -> ManifestRecord:
        try:
            ref = parse_reference(reference)
        except ValueError as e:
            raise ManifestUnknownError(f"no such manifest: {e}", detail={"tag": reference[:200]}) from None
        digest = ref if isinstance(ref, Digest) else self.db.resolve_tag(repo, ref)
        rec = self.db.get_manifest(repo, digest) if digest else None
        if rec is None:
            raise ManifestUnknownError(
                f"no manifest {repo}:{reference} in this registry" if not isinstance(ref, Digest)
                else f"no manifest {repo}@{reference} in this registry",
                detail={"name": repo, "reference": reference},
            )
        return rec

    def get_manifest(self, repo: str, reference: str, accept: list[str]) -> ManifestContent:
        rec = self.resolve(repo, reference)
        _negotiate(rec.media_type, accept, repo, reference)
        try:
            body = self.content.read(rec.digest)
        except NotFoundError:
            raise ManifestUnknownError(f"manifest {repo}@{rec.digest} has lost its content") from None
        return ManifestContent(rec.digest, rec.media_type, body)

    def head_manifest(self, repo: str, reference: str, accept: list[str]) -> ManifestRecord:
        rec = self.resolve(repo, reference)
        _negotiate(rec.media_type, accept, repo, reference)
        return rec

    def delete_manifest(self, repo: str, reference: str) -> None:
        """By digest: the manifest and its tags. By tag: the tag only (spec 1.1)."""
        self._check_delete()
        try:
            ref = parse_reference(reference)
        except ValueError as e:
            raise ManifestUnknownError(f"no such manifest: {e}") from None
        if isinstance(ref, Digest):
            if not self.db.delete_manifest(repo, ref):
                raise ManifestUnknownError(f"no manifest {repo}@{ref} in this registry", detail={"digest": ref})
        elif not self.db.delete_tag(repo, ref):
            raise ManifestUnknownError(f"no tag {repo}:{ref} in this registry", detail={"tag": ref})

    def _check_delete(self) -> None:
        if not self.config.delete_enabled:
            raise UnsupportedError("deletion is disabled on this registry (storage.delete.enabled)")

    # --- listings -----------------------------------------------------------------------

    def tags(self, repo: str, n: int | None, last: str | None) -> list[str]:
        if not self.db.repo_exists(repo):
            raise NameUnknownError(f"repository name not known to registry: {repo}",
                                   detail={"name": repo})
        return self.db.tags(repo, n, last)

    def catalog(self, n: int | None, last: str | None) -> list[str]:
        return self.db.repositories(n, last)

    def referrers(self, repo: str, digest: str, artifact_type: str | None) -> list[dict[str, object]]:
        """Descriptors of the manifests in ``repo`` whose subject is ``digest``."""
        subject = parse_blob_digest(digest)
        out: list[dict[str, object]] = []
        for rec in self.db.referrers(repo, subject):
            if artifact_type is not None and rec.artifact_type != artifact_type:
                continue
            desc: dict[str, object] = {
                "mediaType": rec.media_type, "digest": rec.digest, "size": rec.size,
            }
            if rec.artifact_type:
                desc["artifactType"] = rec.artifact_type
            if rec.annotations:
                desc["annotations"] = rec.annotations
            out.append(desc)
        return out


def _negotiate(media_type: str, accept: list[str], repo: str, reference: str) -> None:
    """Refuse a manifest the client said it cannot read (distribution does the same).

    No Accept, or ``*/*``, takes anything. Older Docker clients that accept only
    schema 2 manifests would get a manifest list they cannot parse; telling them
    so beats a confusing parse error on their side.
    """
    if not accept or "*/*" in accept or media_type in accept:
        return
    if not any(a in (mt.MANIFEST_TYPES | mt.INDEX_TYPES | mt.SCHEMA1_TYPES) for a in accept):
        return  # e.g. application/json only: nothing manifest-specific asked for
    raise ManifestUnknownError(
        f"manifest {repo}:{reference} is {media_type}, which the Accept header does not allow "
        f"({', '.join(accept)})",
        detail={"mediaType": media_type},
    )


def accept_list(headers: list[str]) -> list[str]:
    """Media types from (possibly repeated, comma-joined) Accept headers."""
    out = []
    for h in headers:
        for part in h.split(","):
            value = part.split(";", 1)[0].strip().lower()
            if value:
                out.append(value)
    return out

