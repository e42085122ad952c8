"""Blob uploads: each upload session is a content store ingest.

    POST   /v2/<name>/blobs/uploads/            start   -> 202, Location, Range 0-0
    POST   …/uploads/?digest=D                  monolithic: the body is the blob -> 201
    PATCH  …/uploads/<uuid>                     append a chunk (Content-Range start-end) -> 202
    GET    …/uploads/<uuid>                     status -> 204, Range 0-<last byte>
    PUT    …/uploads/<uuid>?digest=D            last chunk (optional) and commit -> 201
    DELETE …/uploads/<uuid>                     cancel -> 204

A session is a row in ``uploads`` (its repository), a content ingest named
``upload-<uuid>`` holding the bytes so far, and a content lease of the same
name holding the ingest, so that GC never collects an upload in progress.
A session that receives nothing for ``storage.uploads.ttl`` seconds is
ended by GC (``expire_idle``), as distribution purges stale uploads.

Chunks must arrive in order: a ``Content-Range`` whose start is not the
current size (a gap or an overlap) or whose length is not the body's is
refused with 416 RANGE_INVALID and changes nothing. A chunk cut short by a
dropped connection keeps the bytes that arrived: the client asks the
status and resumes from there. Commit verifies the digest over everything
written (DIGEST_INVALID removes the upload: nothing is stored), links the
blob into the repository and then drops the lease, all under the registry
lock so that GC sees the blob either leased or linked.
"""

from __future__ import annotations

import asyncio
import re
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dockyard.content.errors import (
    AlreadyExistsError,
    IngestLockedError,
    NotFoundError,
    VerificationError,
)
from dockyard.content.ingest import LocalWriter
from dockyard.oci.digest import Digest

from ..errors import (
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    DigestInvalidError,
    RangeInvalidError,
)
from ..names import parse_blob_digest
from .storage import BlobInfo, Registry

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?")


@dataclass(frozen=True)
class UploadStatus:
    uuid: str
    repo: str
    offset: int  # bytes received so far

    @property
    def location(self) -> str:
        return f"/v2/{self.repo}/blobs/uploads/{self.uuid}"

    @property
    def range(self) -> str:
        # distribution writes "0-0" for an empty upload, and 0-(n-1) after n bytes.
        return f"0-{max(self.offset - 1, 0)}"


def parse_content_range(value: str) -> tuple[int, int]:
    m = _CONTENT_RANGE.fullmatch(value.strip())
    if not m:
        raise RangeInvalidError(
            f"invalid Content-Range {value[:100]!r}: expected <start>-<end> (inclusive byte offsets)"
        )
    start, end = int(m[1]), int(m[2])
    if end < start:
        raise RangeInvalidError(f"invalid Content-Range {value!r}: end {end} is before start {start}")
    return start, end


class Uploads:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.content = registry.content
        self.db = registry.db

    @staticmethod
    def ref(uuid: str) -> str:
        return f"upload-{uuid}"

    # --- sessions ---------------------------------------------------------------------

    def start(self, repo: str) -> UploadStatus:
        uuid = str(uuidlib.uuid4())
        ref = self.ref(uuid)
        # No expiry on the lease: GC ends sessions idle for storage.uploads.ttl
        # (``expire_idle``), however long an active one takes.
        self.content.create_lease(ref)
        # Opening the writer creates the (empty) ingest, so status works at once.
        self.content.writer(ref, lease=ref).close()
        self.db.create_upload(uuid, repo)
        return UploadStatus(uuid, repo, 0)

    def status(self, repo: str, uuid: str) -> UploadStatus:
        self._check(repo, uuid)
        try:
            st = self.content.status(self.ref(uuid))
        except NotFoundError:
            self._forget(uuid)
            raise self._unknown(repo, uuid) from None
        return UploadStatus(uuid, repo, st.offset)

    def cancel(self, repo: str, uuid: str) -> None:
        self._check(repo, uuid)
        try:
            self.content.abort(self.ref(uuid))
        except NotFoundError:
            pass
        except IngestLockedError:
            raise BlobUploadInvalidError(
                f"upload {uuid} is busy with another request", detail={"uuid": uuid}
            ) from None
        self._forget(uuid)

    def expire_idle(self, now: float) -> list[str]:
        """End the sessions idle for longer than the ttl (GC calls this under the
        registry lock); a session a request is writing to right now is never idle."""
        ttl = self.registry.config.upload_ttl
        ended: list[str] = []
        for uuid, _repo, started in self.db.uploads():
            try:
                idle_since = self.content.status(self.ref(uuid)).updated_at
            except NotFoundError:
                idle_since = started  # never written to, or its ingest is lost
            if now - idle_since < ttl:
                continue
            try:
                self.content.abort(self.ref(uuid))
            except NotFoundError:
                pass
            except IngestLockedError:
                continue  # a PATCH is streaming into it
            self._forget(uuid)
            ended.append(uuid)
        return ended

    def _check(self, repo: str, uuid: str) -> None:
        if self.db.upload_repo(uuid) != repo:
            raise self._unknown(repo, uuid)

    @staticmethod
    def _unknown(repo: str, uuid: str) -> BlobUploadUnknownError:
        return BlobUploadUnknownError(
            f"blob upload unknown: no upload {uuid[:100]!r} in {repo}", detail={"uuid": uuid[:100]}
        )

    def _forget(self, uuid: str) -> None:
        self.db.delete_upload(uuid)
        try:
            self.content.delete_lease(self.ref(uuid))
        except NotFoundError:
            pass

    def _open(self, repo: str, uuid: str) -> LocalWriter:
        self._check(repo, uuid)
        try:
            w = self.content.writer(self.ref(uuid), lease=self.ref(uuid))
        except IngestLockedError:
            raise BlobUploadInvalidError(
                f"upload {uuid} is busy with another request", detail={"uuid": uuid}
            ) from None
        except NotFoundError:  # the lease is gone: the session expired
            self._forget(uuid)
            raise self._unknown(repo, uuid) from None
        return w

    # --- data ------------------------------------------------------------------------------

    async def append(
        self,
        repo: str,
        uuid: str,
        body: AsyncIterator[bytes],
        content_range: str | None,
        content_length: int | None,
    ) -> UploadStatus:
        """Write one chunk (PATCH). Bytes that arrived stay even if the body is cut short."""
        w = self._open(repo, uuid)
        try:
            _check_range(w.offset, content_range, content_length, uuid)
            await _pump(body, w)
            return UploadStatus(uuid, repo, w.offset)
        finally:
            w.close()

    async def finish(
        self,
        repo: str,
        uuid: str,
        digest: str | None,
        body: AsyncIterator[bytes],
        content_range: str | None,
        content_length: int | None,
    ) -> BlobInfo:
        """The closing PUT: an optional last chunk, then verify and commit."""
        if not digest:
            raise DigestInvalidError("missing ?digest= on the closing PUT of an upload")
        want = parse_blob_digest(digest)
        w = self._open(repo, uuid)
        try:
            _check_range(w.offset, content_range, content_length, uuid)
            await _pump(body, w)
            await asyncio.to_thread(self._commit, repo, uuid, w, want)
        finally:
            w.close()
        return self.registry.stat_blob(repo, want)

    async def monolithic(
        self, repo: str, digest: str, body: AsyncIterator[bytes], content_length: int | None
    ) -> BlobInfo:
        """POST ?digest=: a whole blob in one request."""
        want = parse_blob_digest(digest)
        st = self.start(repo)
        try:
            return await self.finish(repo, st.uuid, want, body, None, content_length)
        except BaseException:
            if self.db.upload_repo(st.uuid) is not None:
                self.cancel(repo, st.uuid)
            raise

    def _commit(self, repo: str, uuid: str, w: LocalWriter, want: Digest) -> None:
        with self.registry.lock():
            try:
                w.commit(expected=want)
            except AlreadyExistsError:
                pass  # verified, and already stored: deduplicated
            except VerificationError as e:
                self._forget(uuid)
                raise DigestInvalidError(
                    f"blob upload: {e}", detail={"digest": want}
                ) from None
            self.db.link_blob(repo, want)
            self._forget(uuid)


def _check_range(offset: int, content_range: str | None, content_length: int | None, uuid: str) -> None:
    if content_range is None:
        return
    start, end = parse_content_range(content_range)
    if start != offset:
        what = "leaves a gap" if start > offset else "overlaps what was received"
        raise RangeInvalidError(
            f"Content-Range {start}-{end} {what}: upload {uuid} has {offset} bytes, "
            f"the next chunk must start at {offset}",
            detail={"offset": offset},
        )
    if content_length is not None and end - start + 1 != content_length:
        raise RangeInvalidError(
            f"Content-Range {start}-{end} is {end - start + 1} bytes but Content-Length is "
            f"{content_length}",
            detail={"offset": offset},
        )


_BATCH = 1 << 20


async def _pump(body: AsyncIterator[bytes], w: LocalWriter) -> None:
    """Copy the request body into the ingest.

    Hashing and writing run in a worker thread, a megabyte at a time, while
    the event loop reads the next megabyte: hashlib drops the GIL, so
    several uploads at once (skopeo pushes layers in parallel) use more than
    one core, and the loop keeps serving other requests meanwhile. One batch
    is in flight at a time, so the writer is never used by two threads.
    """
    pending: asyncio.Future[int] | None = None
    batch = bytearray()
    try:
        async for chunk in body:
            batch += chunk
            if len(batch) >= _BATCH:
                if pending is not None:
                    await pending
                full, batch = batch, bytearray()
                pending = asyncio.ensure_future(asyncio.to_thread(w.write, full))
    finally:
        # Whatever arrived is kept, even when the body was cut short.
        if pending is not None:
            await pending
        if batch:
            w.write(batch)

