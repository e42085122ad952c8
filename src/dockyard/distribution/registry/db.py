"""The registry's own records (SQLite, WAL): which repository holds what.

Blob bytes live once in the content store, whatever the number of
repositories that hold them (deduplication); these tables say what each
repository may serve:

- ``blob_links``   a blob is in a repository once uploaded, mounted into it
                   or pushed as one of its manifests; ``linked_at`` dates the
                   link, so GC spares blobs pushed moments ago whose manifest
                   has not arrived yet;
- ``manifests``    the manifests of each repository, with what the referrers
                   API lists (``subject``, ``artifact_type``, annotations);
- ``tags``         tag -> manifest digest;
- ``uploads``      open upload sessions (the bytes are a content ingest).

Each change is one transaction, so a manifest, its tag and its link land
together or not at all. One connection shared by the server's threads under
a lock; other processes (``dockyard registry garbage-collect``) open their own.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dockyard.linux.sqlitedb import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_links (
    repo      TEXT NOT NULL,
    digest    TEXT NOT NULL,
    linked_at REAL NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS blob_links_digest ON blob_links(digest);
CREATE TABLE IF NOT EXISTS manifests (
    repo          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    annotations   TEXT,
    pushed_at     REAL NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE TABLE IF NOT EXISTS tags (
    repo       TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (repo, tag)
);
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, digest);
CREATE TABLE IF NOT EXISTS uploads (
    uuid       TEXT PRIMARY KEY,
    repo       TEXT NOT NULL,
    started_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    repo: str
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    subject: str | None
    annotations: dict[str, str] | None


class RegistryDB:
    def __init__(self, path: str) -> None:
        self._database = Database(path, schema=_SCHEMA, synchronous="NORMAL")
        self._lock = self._database.lock
        self._db = self._database.conn

    def close(self) -> None:
        self._database.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._database.transaction() as db:
            yield db

    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        with self._lock:
            row: tuple[object, ...] | None = self._db.execute(sql, args).fetchone()
            return row

    def _all(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- blob links -------------------------------------------------------------

    def link_blob(self, repo: str, digest: str) -> None:
        with self.tx() as c:
            _link(c, repo, digest)

    def unlink_blob(self, repo: str, digest: str) -> bool:
        with self.tx() as c:
            return c.execute(
                "DELETE FROM blob_links WHERE repo=? AND digest=?", (repo, digest)
            ).rowcount > 0

    def is_linked(self, repo: str, digest: str) -> bool:
        return self._one("SELECT 1 FROM blob_links WHERE repo=? AND digest=?", (repo, digest)) is not None

    def recent_links(self, since: float) -> set[str]:
        return {str(r[0]) for r in self._all("SELECT DISTINCT digest FROM blob_links WHERE linked_at >= ?", (since,))}

    def drop_links(self, digests: list[str]) -> None:
        with self.tx() as c:
            c.executemany("DELETE FROM blob_links WHERE digest=?", [(d,) for d in digests])

    # --- manifests and tags ----------------------------------------------------------

    def put_manifest(self, m: ManifestRecord, tag: str | None) -> None:
        """Record a manifest (and its tag) and link its blob, in one transaction."""
        now = time.time()
        with self.tx() as c:
            c.execute(
                "INSERT INTO manifests(repo, digest, media_type, size, artifact_type, subject, "
                "annotations, pushed_at) VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT(repo, digest) DO UPDATE SET pushed_at=excluded.pushed_at",
                (m.repo, m.digest, m.media_type, m.size, m.artifact_type, m.subject,
                 json.dumps(m.annotations) if m.annotations else None, now),
            )
            _link(c, m.repo, m.digest)
            if tag is not None:
                c.execute(
                    "INSERT INTO tags(repo, tag, digest, updated_at) VALUES (?,?,?,?) "
                    "ON CONFLICT(repo, tag) DO UPDATE SET digest=excluded.digest, "
                    "updated_at=excluded.updated_at",
                    (m.repo, tag, m.digest, now),
                )

    def get_manifest(self, repo: str, digest: str) -> ManifestRecord | None:
        row = self._one(
            "SELECT repo, digest, media_type, size, artifact_type, subject, annotations "
            "FROM manifests WHERE repo=? AND digest=?", (repo, digest))
        return _record(row) if row else None

    def resolve_tag(self, repo: str, tag: str) -> str | None:
        row = self._one("SELECT digest FROM tags WHERE repo=? AND tag=?", (repo, tag))
        return str(row[0]) if row else None

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Remove a manifest, every tag naming it and its link."""
        with self.tx() as c:
            n = c.execute("DELETE FROM manifests WHERE repo=? AND digest=?", (repo, digest)).rowcount
            if n:
                c.execute("DELETE FROM tags WHERE repo=? AND digest=?", (repo, digest))
                c.execute("DELETE FROM blob_links WHERE repo=? AND digest=?", (repo, digest))
            return n > 0

    def delete_tag(self, repo: str, tag: str) -> bool:
        with self.tx() as c:
            return c.execute("DELETE FROM tags WHERE repo=? AND tag=?", (repo, tag)).rowcount > 0

    def repo_exists(self, repo: str) -> bool:
        """A repository exists once something was pushed to it (blob or manifest)."""
        return self._one("SELECT 1 FROM blob_links WHERE repo=? LIMIT 1", (repo,)) is not None

    def tags(self, repo: str, n: int | None, last: str | None) -> list[str]:
        """Tags in lexical (byte) order after ``last``, at most ``n``."""
        return [str(r[0]) for r in self._all(
            "SELECT tag FROM tags WHERE repo=? AND tag > ? ORDER BY tag LIMIT ?",
            (repo, last or "", -1 if n is None else n))]

    def repositories(self, n: int | None, last: str | None) -> list[str]:
        return [str(r[0]) for r in self._all(
            "SELECT DISTINCT repo FROM blob_links WHERE repo > ? ORDER BY repo LIMIT ?",
            (last or "", -1 if n is None else n))]

    def referrers(self, repo: str, subject: str) -> list[ManifestRecord]:
        return [_record(r) for r in self._all(
            "SELECT repo, digest, media_type, size, artifact_type, subject, annotations "
            "FROM manifests WHERE repo=? AND subject=? ORDER BY pushed_at, digest", (repo, subject))]

    def repo_manifests(self) -> dict[str, list[ManifestRecord]]:
        """Every repository's manifests."""
        out: dict[str, list[ManifestRecord]] = {}
        for row in self._all(
            "SELECT repo, digest, media_type, size, artifact_type, subject, annotations "
            "FROM manifests ORDER BY repo"
        ):
            rec = _record(row)
            out.setdefault(rec.repo, []).append(rec)
        return out

    def tagged(self, repo: str) -> set[str]:
        return {str(r[0]) for r in self._all("SELECT DISTINCT digest FROM tags WHERE repo=?", (repo,))}

    def manifest_digests(self) -> set[str]:
        """Every manifest of every repository: the roots of garbage collection."""
        return {str(r[0]) for r in self._all("SELECT DISTINCT digest FROM manifests")}

    # --- uploads ------------------------------------------------------------------------

    def create_upload(self, uuid: str, repo: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO uploads(uuid, repo, started_at) VALUES (?,?,?)",
                      (uuid, repo, time.time()))

    def upload_repo(self, uuid: str) -> str | None:
        row = self._one("SELECT repo FROM uploads WHERE uuid=?", (uuid,))
        return str(row[0]) if row else None

    def delete_upload(self, uuid: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM uploads WHERE uuid=?", (uuid,))

    def uploads(self) -> list[tuple[str, str, float]]:
        return [(str(u), str(r), float(s)) for u, r, s in  # type: ignore[arg-type]
                self._all("SELECT uuid, repo, started_at FROM uploads")]


def _link(c: sqlite3.Connection, repo: str, digest: str) -> None:
    c.execute(
        "INSERT INTO blob_links(repo, digest, linked_at) VALUES (?,?,?) "
        "ON CONFLICT(repo, digest) DO UPDATE SET linked_at=excluded.linked_at",
        (repo, digest, time.time()),
    )


def _record(row: tuple[object, ...]) -> ManifestRecord:
    repo, digest, media_type, size, artifact_type, subject, annotations = row
    return ManifestRecord(
        repo=str(repo), digest=str(digest), media_type=str(media_type), size=int(size),  # type: ignore[call-overload]
        artifact_type=str(artifact_type) if artifact_type is not None else None,
        subject=str(subject) if subject is not None else None,
        annotations=json.loads(str(annotations)) if annotations else None,
    )
