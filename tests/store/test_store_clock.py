"""The shared stores (Redis, PostgreSQL) measure every queue time on the server's
clock: a store object whose process clock runs 300 s ahead or behind sees the same
leases, due times and ages as one whose clock is right."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from store_backends import make_backend

from opencx_salesforce.store import ItemState
from opencx_salesforce.testing.store_conformance.backend import Backend

Q = "outbox"
SHARED_BACKENDS = [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=SHARED_BACKENDS)
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    opened = make_backend(request.param, tmp_path)
    yield opened
    await opened.close_all()


@contextmanager
def clock_off_by(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[None]:
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() + seconds)
        yield


async def test_a_store_whose_clock_runs_ahead_cannot_take_a_live_lease(
    shared: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    right, ahead = await shared.open(), await shared.open()
    await right.enqueue(Q, "job", b"p")
    [held] = await right.lease(Q, visibility_timeout=120)
    with clock_off_by(monkeypatch, 300):
        assert await ahead.lease(Q, visibility_timeout=120) == []
        assert [i.state for i in await ahead.items(Q)] == [ItemState.LEASED]
    assert await right.ack(held) is True


async def test_work_queued_by_a_store_whose_clock_runs_behind_is_due_at_once(
    shared: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    right, behind = await shared.open(), await shared.open()
    with clock_off_by(monkeypatch, -300):
        await behind.enqueue(Q, "now", b"")
        await behind.enqueue(Q, "in-a-minute", b"", delay=60)
    [lease] = await right.lease(Q, visibility_timeout=60, limit=5)
    assert lease.item_id == "now"
    assert lease.age < 5  # not 300 s old


async def test_a_retry_from_a_skewed_store_comes_due_after_its_delay_only(
    shared: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    right, skewed = await shared.open(), await shared.open()
    await right.enqueue(Q, "job", b"")
    for offset in (300, -300):
        with clock_off_by(monkeypatch, offset):
            [lease] = await skewed.lease(Q, visibility_timeout=60)
            assert await skewed.retry_in(lease, 0.3) is True
        assert await right.lease(Q, visibility_timeout=60) == []
        await right.wait(Q, 2.0)  # wakes when it comes due, on the server's clock
        with clock_off_by(monkeypatch, offset):
            await skewed.wait(Q, 2.0)
            [lease] = await skewed.lease(Q, visibility_timeout=60)
            assert await skewed.retry_in(lease, 0) is True
