"""doctor's store check: every store proves a write and its read-back; on
PostgreSQL it names the schema and its version (issue #17). The store's own
health check refusing a write on a read-only session is tested in
tests/store/test_store_postgres.py."""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest
from doctor_support import StackFactory, result

from opencx_salesforce.doctor import diagnose
from opencx_salesforce.doctor.report import Status
from opencx_salesforce.store._pg_schema import LATEST

POSTGRES_URL = os.environ.get(
    "OPENCX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def test_doctor_shows_the_memory_store_answering(make_stack: StackFactory) -> None:
    stack = await make_stack()
    check = result(await diagnose(stack.plugin.runtime), "store")
    assert check.status is Status.OK
    assert "MemoryStore: a write and its read-back" in check.detail


@pytest.mark.postgres
async def test_doctor_names_the_postgres_schema_and_its_version(
    make_stack: StackFactory,
) -> None:
    schema = f"opencx_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        stack = await make_stack(store_url=f"{POSTGRES_URL}?schema={schema}")
        check = result(await diagnose(stack.plugin.runtime), "store")
        assert check.status is Status.OK, check.detail
        expected = f"PostgreSQL schema '{schema}', schema version {LATEST}, answers writes"
        assert expected in check.detail

    finally:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def test_doctor_files_a_store_refusing_writes_under_its_symptom(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    store = stack.plugin.runtime.host.store

    async def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("No space left on device")

    store.set = refuse  # type: ignore[method-assign]
    check = result(await diagnose(stack.plugin.runtime), "store")
    assert check.status is Status.FAIL and "refused a write (OSError)" in check.detail
    assert check.symptom == "The store refuses writes"  # a heading of troubleshooting.md
