"""What only the PostgreSQL store has: the server's clock, LISTEN/NOTIFY between
instances, all-or-nothing writes when a connection dies, and schema management
that instances starting together share."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from store_backends import POSTGRES_URL, drop_schema, fresh_schema, postgres_url

from opencx_salesforce.store._pg_schema import LATEST
from opencx_salesforce.store._pg_url import parse_postgres_url
from opencx_salesforce.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = fresh_schema()
    yield name
    await drop_schema(name)


@pytest.fixture
async def server() -> AsyncIterator[asyncpg.Connection]:
    """A plain connection, to look at and interfere with what the stores do."""
    conn = await asyncpg.connect(POSTGRES_URL)
    yield conn
    await conn.close()


async def test_an_instance_whose_clock_runs_ahead_cannot_steal_a_live_lease(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = await PostgresStore.open(postgres_url(schema))
    ahead = await PostgresStore.open(postgres_url(schema))
    try:
        await honest.enqueue("outbox", "job", b"p")
        await honest.set("locks", "case:1", b"honest", ttl=60)
        [held] = await honest.lease("outbox", visibility_timeout=60)

        # From here on this process's clock reads 300 s ahead: the lease (60 s)
        # and the TTL (60 s) would both have run out by that clock.
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 300)
        assert await ahead.lease("outbox", visibility_timeout=60) == []
        assert await ahead.get("locks", "case:1") == b"honest"
        assert await ahead.set_if_absent("locks", "case:1", b"ahead") is False
        [item] = await ahead.items("outbox")
        assert item.state.value == "leased"
        assert item.available_at == pytest.approx(real_time() + 60, abs=5)
        await ahead.wait("outbox", 0.05)  # nothing is due on the server's clock
        assert await honest.ack(held) is True
    finally:
        await honest.close()
        await ahead.close()


async def test_notify_wakes_a_waiter_on_another_instance(schema: str) -> None:
    # poll=600: the waiter's fallback poll cannot be what wakes it.
    waiter_store = await PostgresStore.open(postgres_url(schema, poll=600))
    producer = await PostgresStore.open(postgres_url(schema))
    try:
        waiter = asyncio.create_task(waiter_store.wait("outbox", 600))
        await waiter_store._listener.ensure_started()  # listening: no race with the enqueue
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await producer.enqueue("outbox", "job", b"p")
        await asyncio.wait_for(waiter, 10)  # woken by NOTIFY, long before 600 s
        [lease] = await waiter_store.lease("outbox", visibility_timeout=60)
        assert lease.item_id == "job"
    finally:
        await waiter_store.close()
        await producer.close()


async def test_a_lost_listen_connection_only_delays_the_waiter(
    schema: str, server: asyncpg.Connection
) -> None:
    name = f"opencx_listen_{uuid.uuid4().hex[:8]}"
    waiter_store = await PostgresStore.open(postgres_url(schema, poll=0.2))
    waiter_store._listener._dsn += f"?application_name={name}"
    producer = await PostgresStore.open(postgres_url(schema))
    try:
        await waiter_store._listener.ensure_started()
        killed = await server.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            name,
        )
        assert killed == 1
        waiter = asyncio.create_task(waiter_store.wait("outbox", 600))
        await producer.enqueue("outbox", "job", b"p")
        await asyncio.wait_for(waiter, 10)
    finally:
        await waiter_store.close()
        await producer.close()


async def _backend_waiting_on_a_lock(
    server: asyncpg.Connection, name: str, *, other_than: int = 0
) -> int:
    """The pid of the store connection named ``name`` once it waits on a lock
    (other than ``other_than``: a terminated backend lingers a moment)."""
    while True:
        pid = await server.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
            "AND wait_event_type = 'Lock' AND pid <> $2",
            name,
            other_than,
        )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.01)


async def test_a_connection_killed_mid_transaction_leaves_nothing_half_written(
    schema: str, server: asyncpg.Connection
) -> None:
    name = f"opencx_victim_{uuid.uuid4().hex[:8]}"
    # reconnect_timeout=0: the killed statement's failure reaches the caller
    # (the next test shows the store trying it again instead).
    store = await PostgresStore.open(
        postgres_url(schema, application_name=name, reconnect_timeout=0)
    )
    try:
        await store.set("state", "cursor", b"v0")
        await store.enqueue("outbox", "first", b"1")
        blocker = await asyncpg.connect(POSTGRES_URL)
        try:
            # Another transaction holds the row and an uncommitted item with the
            # id the store is about to enqueue: both store statements block.
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute(
                f'SELECT 1 FROM "{schema}".kv WHERE ns = $1 AND key = $2 FOR UPDATE',
                "state",
                "cursor",
            )
            cas = asyncio.create_task(store.compare_and_set("state", "cursor", b"v0", b"v1"))
            await server.execute(
                "SELECT pg_terminate_backend($1)",
                first := await _backend_waiting_on_a_lock(server, name),
            )
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
                await cas
            await blocker.execute(
                f'INSERT INTO "{schema}".queue_items (queue, item_id, payload, state, '
                "attempts, available_at, enqueued_at) VALUES ('outbox', 'second', '', "
                "'ready', 0, now(), now())"
            )
            enqueue = asyncio.create_task(store.enqueue("outbox", "second", b"2"))
            await server.execute(
                "SELECT pg_terminate_backend($1)",
                await _backend_waiting_on_a_lock(server, name, other_than=first),
            )
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
                await enqueue
            await tx.rollback()
        finally:
            await blocker.close()
        # Neither write happened, and the store carries on with new connections.
        assert await store.get("state", "cursor") == b"v0"
        assert [item.item_id for item in await store.items("outbox")] == ["first"]
        assert await store.compare_and_set("state", "cursor", b"v0", b"v1") is True
        assert await store.enqueue("outbox", "second", b"2") is True
    finally:
        await store.close()


async def test_a_statement_the_server_aborted_is_tried_again_once(
    schema: str, server: asyncpg.Connection
) -> None:
    name = f"opencx_victim_{uuid.uuid4().hex[:8]}"
    store = await PostgresStore.open(postgres_url(schema, application_name=name))
    try:
        await store.set("counters", "n", b"0")
        blocker = await asyncpg.connect(POSTGRES_URL)
        try:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute(
                f'SELECT 1 FROM "{schema}".kv WHERE ns = $1 AND key = $2 FOR UPDATE',
                "counters",
                "n",
            )
            cas = asyncio.create_task(store.compare_and_set("counters", "n", b"0", b"1"))
            killed = await _backend_waiting_on_a_lock(server, name)
            await server.execute("SELECT pg_terminate_backend($1)", killed)
            # Tried again on a new connection, which waits for the same row lock.
            await _backend_waiting_on_a_lock(server, name, other_than=killed)
            await tx.rollback()
        finally:
            await blocker.close()
        assert await cas is True
        assert await store.get("counters", "n") == b"1"
        assert await store.compare_and_set("counters", "n", b"0", b"2") is False
    finally:
        await store.close()


async def test_instances_starting_together_migrate_once(
    schema: str, server: asyncpg.Connection
) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(postgres_url(schema)) for _ in range(5)))
    try:
        assert [await store.schema_version() for store in stores] == [LATEST] * 5
        rows = await server.fetch(f'SELECT version FROM "{schema}".schema_version')
        assert [row[0] for row in rows] == list(range(1, LATEST + 1))
        await stores[0].set("ns", "k", b"v")
        assert await stores[4].get("ns", "k") == b"v"
    finally:
        for store in stores:
            await store.close()


async def test_large_values_go_lz4_where_the_server_has_it_and_old_ones_stay_readable(
    schema: str, server: asyncpg.Connection
) -> None:
    """Migration 2: a session-sized value is compressed with lz4 from then on
    (where the server was built with it); one an older release wrote (pglz)
    reads back the same after the upgrade."""
    big = b"".join(
        b'{"role": "contact", "text": "order %d has not arrived"},' % n for n in range(200)
    )
    table = f'"{schema}".kv'
    store = await PostgresStore.open(postgres_url(schema))
    await store.close()
    # The schema as version 1 left it, and a value written then.
    await server.execute(f'DELETE FROM "{schema}".schema_version WHERE version = 2')
    await server.execute(f"ALTER TABLE {table} ALTER COLUMN value SET COMPRESSION pglz")
    await server.execute(f"INSERT INTO {table} (ns, key, value) VALUES ('ns', 'old', $1)", big)

    store = await PostgresStore.open(postgres_url(schema))  # upgrades to version 2
    try:
        assert await store.schema_version() == LATEST == 2
        await store.set("ns", "new", big)
        assert await store.get("ns", "old") == big
        assert await store.get("ns", "new") == big
    finally:
        await store.close()
    has_lz4 = await server.fetchval(
        "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    methods = dict(
        await server.fetch(f"SELECT key, pg_column_compression(value) FROM {table} WHERE ns = 'ns'")
    )
    assert methods == {"old": "pglz", "new": "lz4" if has_lz4 else "pglz"}


async def test_a_schema_from_a_newer_release_is_refused(
    schema: str, server: asyncpg.Connection
) -> None:
    store = await PostgresStore.open(postgres_url(schema))
    await store.close()
    await server.execute(
        f"INSERT INTO \"{schema}\".schema_version (version, description) VALUES ($1, 'future')",
        LATEST + 1,
    )
    with pytest.raises(RuntimeError, match="newer than this release"):
        await PostgresStore.open(postgres_url(schema))


async def test_check_writable_reports_version_and_a_refused_write(schema: str) -> None:
    store = await PostgresStore.open(postgres_url(schema))
    try:
        health = await store.check_writable()
        assert (health.schema, health.schema_version, health.writable) == (schema, LATEST, True)
        assert health.server_time == pytest.approx(time.time(), abs=60)
    finally:
        await store.close()
    # The same schema through a session that may only read (as on a standby).
    settings = parse_postgres_url(postgres_url(schema))
    pool = await asyncpg.create_pool(
        settings.dsn,
        min_size=0,
        max_size=1,
        server_settings={"default_transaction_read_only": "on"},
    )
    read_only = PostgresStore(pool, settings)
    try:
        health = await read_only.check_writable()
        assert health.writable is False
        assert health.error is not None and "read-only" in health.error
    finally:
        await read_only.close()


def test_store_parameters_are_taken_out_of_the_dsn() -> None:
    settings = parse_postgres_url(
        "postgresql://app:secret@db:5432/helpdesk?schema=opencx_prod&pool_min=2"
        "&pool_max=20&poll=0.5&sslmode=require"
    )
    assert settings.dsn == "postgresql://app:secret@db:5432/helpdesk?sslmode=require"
    assert (settings.schema, settings.pool_min, settings.pool_max, settings.poll) == (
        "opencx_prod",
        2,
        20,
        0.5,
    )
    with pytest.raises(ValueError, match="schema name"):
        parse_postgres_url("postgresql://db/x?schema=Robert');DROP")
    with pytest.raises(ValueError, match="pool_min"):
        parse_postgres_url("postgresql://db/x?pool_min=5&pool_max=2")


async def test_expired_keys_leave_no_rows_behind(schema: str, server: asyncpg.Connection) -> None:
    store = await PostgresStore.open(postgres_url(schema))
    try:
        for n in range(20):
            await store.set("dedupe", f"reply-{n}", b"", ttl=0.05)
        await asyncio.sleep(0.1)
        store.purge_interval = 0  # the next write sweeps
        await store.set("dedupe", "live", b"")
        rows = await server.fetch(f'SELECT key FROM "{schema}".kv WHERE ns = $1', "dedupe")
        assert [row[0] for row in rows] == ["live"]
    finally:
        await store.close()


async def test_a_user_given_a_ready_schema_needs_no_create_on_the_database(
    server: asyncpg.Connection,
) -> None:
    # A least-privileged application user: no CREATE on the database (PUBLIC has
    # none by default), owner of the schema a DBA made for it.
    schema = fresh_schema()
    role = schema.replace("opencx_test_", "opencx_test_role_")
    await server.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        await server.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"')
        url = postgres_url(schema).replace("postgres@", f"{role}@", 1)
        store = await PostgresStore.open(url)
        try:
            assert await store.schema_version() == LATEST
            assert await store.set_if_absent("ns", "k", b"v") is True
        finally:
            await store.close()
    finally:
        await drop_schema(schema)
        await server.execute(f'DROP ROLE "{role}"')
