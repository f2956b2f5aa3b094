"""While PostgreSQL is down, every statement of every worker retries: each
retry logged a WARNING (35,886 lines in two minutes of an outage). One line
in a while now, counting the retries since."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from opencx_salesforce.log_throttle import LogThrottle
from opencx_salesforce.store import _pg_retry


class DownPool:
    """A pool whose every connection attempt is refused."""

    async def acquire(self) -> Any:
        raise OSError(111, "Connect call failed ('127.0.0.1', 5432)")

    async def release(self, connection: Any) -> None:
        raise AssertionError("nothing was lent")


async def test_retries_of_many_statements_log_one_line_in_a_while(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_pg_retry, "_retries", LogThrottle())
    caplog.set_level(logging.WARNING, logger=_pg_retry.__name__)

    async def statement() -> None:
        with pytest.raises(OSError):
            await _pg_retry.run_retrying(
                DownPool(),  # type: ignore[arg-type]
                lambda connection: asyncio.sleep(0),
                reconnect_timeout=0.4,
                on_attempt=lambda: None,
            )

    await asyncio.gather(*(statement() for _ in range(20)))
    lines = [r.getMessage() for r in caplog.records if r.name == _pg_retry.__name__]
    assert len(lines) == 1, lines
    assert lines[0].startswith("PostgreSQL store: [Errno 111] Connect call failed")
