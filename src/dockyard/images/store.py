"""The image metadata DB: which images exist and which names point at them.

SQLite in WAL mode, one transaction per change, so a ``kill -9`` leaves
either the old state or the new one. Two tables:

- ``images``: one row per image, keyed by its **id** (the config digest,
  as Docker's image ids are), with the *target* descriptor (the manifest,
  or the index it was stored from) whose blobs live in the content store,
  the time it was stored, labels, and the parent id (images built here).
- ``refs``: normalised reference string (``docker.io/library/busybox:latest``
  or ``…@sha256:…``) → image id. An image with no tag is *dangling*.

An image row is written only after every blob it needs is in the content
store, so a listed image is always complete. The blobs themselves are kept
alive by the content store's GC roots, which the service derives from this
table (``targets``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from dockyard.linux.sqlitedb import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id                TEXT PRIMARY KEY,
    target_media_type TEXT NOT NULL,
    target_digest     TEXT NOT NULL,
    target_size       INTEGER NOT NULL,
    created           REAL NOT NULL,
    last_tag_time     REAL NOT NULL DEFAULT 0,
    labels            TEXT NOT NULL DEFAULT '{}',
    parent            TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS refs (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_by_image ON refs(image_id);
"""


@dataclass(frozen=True, slots=True)
class Target:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: str
    target: Target
    created: float
    last_tag_time: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    parent: str = ""
    names: tuple[str, ...] = ()


class MetadataStore:
    """The two tables above; thread-safe, shareable between processes."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self._database = Database(path, schema=_SCHEMA, foreign_keys=True)
        self._lock = self._database.lock
        self._db = self._database.conn

    def close(self) -> None:
        self._database.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error."""
        with self._database.transaction() as db:
            yield db

    # --- reads -------------------------------------------------------------

    def get(self, image_id: str) -> ImageRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
            return self._record(row) if row else None

    def resolve_name(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT image_id FROM refs WHERE name = ?", (name,)).fetchone()
            return row[0] if row else None

    def ids_with_prefix(self, prefix: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM images WHERE id >= ? AND id < ?", (prefix, prefix + "\uffff")
            ).fetchall()
            return [r[0] for r in rows]

    def ids_with_target(self, digest: str) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT id FROM images WHERE target_digest = ?", (digest,))
            return [r[0] for r in rows.fetchall()]

    def all(self) -> list[ImageRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM images ORDER BY created DESC, id").fetchall()
            return [self._record(r) for r in rows]

    def names(self, image_id: str) -> tuple[str, ...]:
        rows = self._db.execute(
            "SELECT name FROM refs WHERE image_id = ? ORDER BY created, name", (image_id,)
        ).fetchall()
        return tuple(r[0] for r in rows)

    def targets(self) -> list[Target]:
        """Every image's target: the GC roots the images hold."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT target_media_type, target_digest, target_size FROM images"
            ).fetchall()
            return [Target(*r) for r in rows]

    def _record(self, row: tuple[object, ...]) -> ImageRecord:
        image_id, mt, dg, size, created, last_tag, labels, parent = row
        return ImageRecord(
            id=str(image_id),
            target=Target(str(mt), str(dg), int(size)),  # type: ignore[call-overload]
            created=float(created),  # type: ignore[arg-type]
            last_tag_time=float(last_tag),  # type: ignore[arg-type]
            labels=json.loads(str(labels)),
            parent=str(parent),
            names=self.names(str(image_id)),
        )

    # --- writes (call inside ``transaction``) ------------------------------

    @staticmethod
    def put(
        db: sqlite3.Connection,
        image_id: str,
        target: Target,
        *,
        labels: Mapping[str, str] | None = None,
        parent: str = "",
        created: float | None = None,
    ) -> None:
        """Insert an image, or point an existing one at ``target``."""
        now = created if created is not None else time.time()
        db.execute(
            "INSERT INTO images (id, target_media_type, target_digest, target_size, created, "
            "labels, parent) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "target_media_type = excluded.target_media_type, "
            "target_digest = excluded.target_digest, target_size = excluded.target_size, "
            "parent = CASE WHEN excluded.parent != '' THEN excluded.parent ELSE images.parent END",
            (image_id, target.media_type, target.digest, target.size, now,
             json.dumps(dict(labels or {})), parent),
        )

    @staticmethod
    def set_ref(db: sqlite3.Connection, name: str, image_id: str) -> str | None:
        """Point ``name`` at ``image_id``; returns the id it pointed at before."""
        row = db.execute("SELECT image_id FROM refs WHERE name = ?", (name,)).fetchone()
        now = time.time()
        db.execute(
            "INSERT INTO refs (name, image_id, created) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, created = excluded.created",
            (name, image_id, now),
        )
        db.execute("UPDATE images SET last_tag_time = ? WHERE id = ?", (now, image_id))
        return row[0] if row and row[0] != image_id else None

    @staticmethod
    def names_in(db: sqlite3.Connection, image_id: str) -> tuple[str, ...]:
        rows = db.execute(
            "SELECT name FROM refs WHERE image_id = ? ORDER BY created, name", (image_id,)
        ).fetchall()
        return tuple(r[0] for r in rows)

    @staticmethod
    def children(db: sqlite3.Connection, image_id: str) -> list[str]:
        rows = db.execute("SELECT id FROM images WHERE parent = ?", (image_id,)).fetchall()
        return [r[0] for r in rows]

    @staticmethod
    def delete_ref(db: sqlite3.Connection, name: str) -> bool:
        return db.execute("DELETE FROM refs WHERE name = ?", (name,)).rowcount > 0

    @staticmethod
    def delete_image(db: sqlite3.Connection, image_id: str) -> None:
        db.execute("DELETE FROM refs WHERE image_id = ?", (image_id,))
        db.execute("DELETE FROM images WHERE id = ?", (image_id,))
