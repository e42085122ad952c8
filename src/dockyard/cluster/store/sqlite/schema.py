"""The one table and how connections to it are opened.

kine's schema: every change appends a row; a row's ``id`` is the store
revision of that change. A key's value at revision R is its newest row with
``id <= R`` (none, or ``deleted = 1``: the key does not exist at R).

    id               the revision of this change (AUTOINCREMENT: a revision
                     is never reused, even after compaction deletes its row)
    name             the key
    created          1 when this row brought the key into existence
    deleted          1 when this row is a deletion (a tombstone)
    create_revision  the revision that created the key (== id when created)
    prev_revision    id of the row this one supersedes (0 for a create)
    lease            the lease the key is attached to (0: none)
    value            the new value; for a tombstone, the last value
    old_value        the value before this change (NULL for a create), so a
                     watch replayed from the table has ``prev_kv`` even after
                     compaction removed the older row

Durability: WAL with ``synchronous=FULL`` fsyncs the WAL on every commit, so
a write acknowledged to a caller survives ``kill -9`` and power loss.
``auto_vacuum=INCREMENTAL`` must be chosen before the first table exists; it
lets compaction hand freed pages back to the file system in small steps.
"""

from __future__ import annotations

import sqlite3

COLUMNS = "id, name, created, deleted, create_revision, prev_revision, lease, value, old_value"

_TABLES = """
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    lease INTEGER NOT NULL,
    value BLOB NOT NULL,
    old_value BLOB
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY,
    ttl INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
"""

# A WAL file is truncated to this size after a checkpoint instead of being
# left at its high-water mark (k3s users found theirs at hundreds of GB).
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves. The connection
    # is used from one thread at a time but created/closed elsewhere.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA synchronous=FULL")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def create(conn: sqlite3.Connection) -> None:
    """Bring a new or existing database to the current schema."""
    # Only takes effect while the database has no tables yet.
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch the store to WAL mode (got {mode})")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    conn.executescript(_TABLES)
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        # A database made elsewhere without it: one full VACUUM converts it.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")


def current_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kv'").fetchone()
    return int(row[0]) if row else 0


def compact_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name = 'compact_revision'").fetchone()
    return int(row[0]) if row else 0


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``
    (None: no bound). UTF-8 sorts by code point, as SQLite's BINARY collation
    compares, so bumping the last code point is exact."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            bumped = last + 1 if last + 1 != 0xD800 else 0xE000  # skip surrogates
            return prefix[:-1] + chr(bumped)
        prefix = prefix[:-1]
    return None
