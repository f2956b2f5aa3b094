"""The SQLite store's tables: the key/value table and the queue items, created at
open if missing, and the ``user_version`` they are recorded under. (The
PostgreSQL store's counterpart, with migrations, is :mod:`._pg_schema`.)
"""

from __future__ import annotations

SCHEMA_VERSION = 1

SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS kv (
        ns TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        expires_at REAL,  -- unix seconds; NULL: never
        PRIMARY KEY (ns, key)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL",
    """
    CREATE TABLE IF NOT EXISTS queue_items (
        seq INTEGER PRIMARY KEY,  -- insertion order: breaks ties between equal times
        queue TEXT NOT NULL,
        item_id TEXT NOT NULL,
        payload BLOB NOT NULL,
        state TEXT NOT NULL,  -- an ItemState value
        attempts INTEGER NOT NULL,
        available_at REAL NOT NULL,  -- for a leased item: its lease deadline
        enqueued_at REAL NOT NULL,
        lease_token TEXT,  -- set only while leased
        last_error TEXT,
        UNIQUE (queue, item_id)
    )
    """,
    # Leasing and "when is the next item due" read this index, never the dead items.
    """
    CREATE INDEX IF NOT EXISTS queue_due
        ON queue_items (queue, available_at, seq) WHERE state != 'dead'
    """,
)
