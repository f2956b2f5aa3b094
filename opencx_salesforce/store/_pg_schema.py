"""The PostgreSQL store's tables, and how they are created and upgraded at open.

Forward-only migrations: each entry of :data:`MIGRATIONS` is applied once, in
order, and recorded in ``<schema>.schema_version``. The whole upgrade runs in one
transaction holding a transaction-level advisory lock keyed on the schema name,
so two instances starting together take turns: the second finds the work done.
A database migrated by a newer release (a version this code does not know) is
refused rather than written to with the old layout's assumptions.

Times are ``timestamptz`` (readable by an operator with ``psql``); the protocol's
unix seconds are converted at the boundary. Names are ``COLLATE "C"`` so that
``keys`` sorts by code point, as every other backend does.
"""

from __future__ import annotations

from asyncpg import Connection
from asyncpg.pool import PoolConnectionProxy

from opencx_salesforce.store._rules import SchemaTooNew

# (version, what it does, statements); ``{s}`` is the quoted schema name.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "key/value, queue items, health check row",
        (
            """
            CREATE TABLE {s}.kv (
                ns text COLLATE "C" NOT NULL,
                key text COLLATE "C" NOT NULL,
                value bytea NOT NULL,
                expires_at timestamptz,  -- NULL: never
                PRIMARY KEY (ns, key)
            )
            """,
            "CREATE INDEX kv_expiry ON {s}.kv (expires_at) WHERE expires_at IS NOT NULL",
            """
            CREATE TABLE {s}.queue_items (
                seq bigserial PRIMARY KEY,  -- insertion order: breaks ties
                queue text COLLATE "C" NOT NULL,
                item_id text COLLATE "C" NOT NULL,
                payload bytea NOT NULL,
                state text NOT NULL CHECK (state IN ('ready', 'leased', 'dead')),
                attempts integer NOT NULL,
                available_at timestamptz NOT NULL,  -- leased: the lease's deadline
                enqueued_at timestamptz NOT NULL,
                lease_token text,  -- set only while leased
                last_error text,
                UNIQUE (queue, item_id)
            )
            """,
            # Leasing and "when is the next item due" read this index only.
            """
            CREATE INDEX queue_due ON {s}.queue_items (queue, available_at, seq)
                WHERE state <> 'dead'
            """,
            """
            CREATE TABLE {s}.health (
                id integer PRIMARY KEY CHECK (id = 1),
                checked_at timestamptz NOT NULL
            )
            """,
        ),
    ),
    (
        2,
        "lz4 for large values, where the server has it",
        (
            # A session is stored whole on every change (a 20-message one is
            # several kB), so PostgreSQL compresses it (TOAST) on every write;
            # lz4 costs the server less CPU than the default pglz (measured in
            # bench/profile_notes.md, session 12). Only values written from now on
            # use it: "This does not cause the table to be rewritten"
            # (https://www.postgresql.org/docs/current/sql-altertable.html). lz4
            # exists from PostgreSQL 14 in servers built --with-lz4; elsewhere
            # nothing changes. EXECUTE, so an older server never parses it.
            """
            DO $opencx_migration$
            BEGIN
                IF EXISTS (
                    SELECT 1 FROM pg_settings
                    WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
                ) THEN
                    EXECUTE $opencx_sql$
                        ALTER TABLE {s}.kv ALTER COLUMN value SET COMPRESSION lz4
                    $opencx_sql$;
                    EXECUTE $opencx_sql$
                        ALTER TABLE {s}.queue_items ALTER COLUMN payload SET COMPRESSION lz4
                    $opencx_sql$;
                END IF;
            END
            $opencx_migration$
            """,
        ),
    ),
)

LATEST = MIGRATIONS[-1][0]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def migrate(conn: Connection | PoolConnectionProxy, schema: str) -> int:
    """Create or upgrade ``schema``'s tables; the version it is at afterwards."""
    s = quote_ident(schema)
    async with conn.transaction():
        # Held until commit: instances starting together migrate one at a time.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('opencx_salesforce.store:' || $1))", schema
        )
        # Looked up first: CREATE SCHEMA IF NOT EXISTS still needs the CREATE
        # privilege on the database, which a user given a ready schema lacks.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f"CREATE SCHEMA {s}")
        await conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {s}.schema_version (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """
        )
        current = await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {s}.schema_version")
        assert isinstance(current, int)
        if current > LATEST:
            raise SchemaTooNew(
                f"PostgreSQL schema {schema!r} is at version {current}, newer than this "
                f"release knows ({LATEST}): upgrade opencx-salesforce on this instance"
            )
        for version, description, statements in MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                await conn.execute(statement.format(s=s))
            await conn.execute(
                f"INSERT INTO {s}.schema_version (version, description) VALUES ($1, $2)",
                version,
                description,
            )
        return LATEST
