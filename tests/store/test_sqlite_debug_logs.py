"""Secrets in DEBUG logs with the SQLite store (issue #16, item 8): a driver may log
each call with its parameters (aiosqlite, which the store used before, did); with
the host's logging at DEBUG, nothing the store was given may appear in any record."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opencx_salesforce.store.sqlite import SQLiteStore

SECRET = "whtok_0123456789abcdefSECRET"


async def test_sqlite_debug_logs_carry_no_stored_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = await SQLiteStore.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        await store.set("salesforce.state", "webhook_token", SECRET.encode())
        assert await store.get("salesforce.state", "webhook_token") == SECRET.encode()
        await store.enqueue("q", "job-1", f'{{"token": "{SECRET}"}}'.encode())
        await store.compare_and_set("salesforce.state", SECRET, None, SECRET.encode())
    finally:
        await store.close()
    assert caplog.handler.level <= logging.DEBUG  # every record reached the check
    for record in caplog.records:
        assert SECRET not in record.getMessage(), (record.name, record.getMessage()[:200])
