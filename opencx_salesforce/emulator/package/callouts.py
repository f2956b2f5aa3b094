"""The Queueable jobs' callouts: one POST per doorbell to the Named Credential's
Endpoint, the contract's body and headers, a 10 s timeout, no redirects, no retry.
[src: apexcode apex_callouts_timeouts.htm; SALESFORCE.md §7]"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import aiohttp

from opencx_salesforce.apex import contract, names
from opencx_salesforce.emulator.package.deployment import endpoint_of
from opencx_salesforce.emulator.package.model import (
    CALLOUT_TIME_BUDGET_SECONDS,
    CALLOUT_TIMEOUT_SECONDS,
    DELIVERED,
    DROPPED,
    FAILED,
    MAX_CALLOUTS_PER_JOB,
    CalloutRecord,
    Doorbell,
    PackageFaults,
    WebhookCounters,
)

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org

_logger = logging.getLogger(__name__)

# What Apex callouts raise when the far end cannot be used. Wording as commonly
# reported by orgs (UNCONFIRMED in Salesforce's docs).
NAMED_CREDENTIAL_MISSING: Final = (
    "The callout couldn't access the endpoint. You might not have the required "
    f'permissions, or the named credential "{names.NAMED_CREDENTIAL}" might not exist.'
)
UNREACHABLE: Final = (
    'Unable to tunnel through proxy. Proxy returns "HTTP/1.1 503 Service Unavailable"'
)
TIMED_OUT: Final = "Read timed out"

# Apex callouts identify themselves so. (UNCONFIRMED: observed, not documented.)
USER_AGENT: Final = "SFDC-Callout/{version}"


@dataclass(frozen=True)
class Answer:
    status: int | None
    reason: str = ""
    body: str = ""
    error: str | None = None  # a CalloutException message when there was no answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class CalloutJobs:
    """The jobs half of :class:`~opencx_salesforce.emulator.package.runtime.ApexRuntime`:
    runs the Queueable jobs the triggers enqueued, in order unless ``reorder``."""

    org: Org
    faults: PackageFaults
    counters: WebhookCounters
    log: deque[CalloutRecord]
    signing_secret: str | None
    _tasks: set[asyncio.Task[None]]
    _last_job: asyncio.Task[None] | None

    def enqueue(self, bells: list[Doorbell]) -> None:
        delay = self.faults.draw_delay()
        deliveries: list[tuple[Doorbell, int]] = []
        for bell in bells:
            if self.faults.draw_drop():
                self.counters.dropped += 1
                self.record(bell, DROPPED)
                continue
            deliveries.append((bell, 2 if self.faults.draw_duplicate() else 1))
        previous = None if self.faults.reorder else self._last_job
        task = asyncio.get_running_loop().create_task(self._run_job(deliveries, delay, previous))
        self._last_job = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_job(
        self,
        deliveries: list[tuple[Doorbell, int]],
        delay: float,
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})  # FIFO, whatever became of the previous job
        if delay:
            await asyncio.sleep(delay)
        self.counters.jobs += 1
        secret = self.signing_secret  # execute() reads the secret once per job
        loop = asyncio.get_running_loop()
        async with callout_client() as session:
            started, made = loop.time(), 0
            for bell, copies in deliveries:
                elapsed = loop.time() - started
                if made >= MAX_CALLOUTS_PER_JOB or (
                    elapsed + CALLOUT_TIMEOUT_SECONDS > CALLOUT_TIME_BUDGET_SECONDS
                ):
                    # mayCallOut() said no: the rest goes to a chained job.
                    self.counters.jobs += 1
                    started, made = loop.time(), 0
                await self._deliver(session, bell, copies, secret)
                made += 1

    async def _deliver(
        self, session: aiohttp.ClientSession, bell: Doorbell, copies: int, secret: str | None
    ) -> None:
        endpoint, body, headers = self.request(bell, secret)
        for copy in range(copies):
            answer = await post(session, endpoint, body, headers)
            self.counters.sent += 1
            if copy:
                self.counters.duplicated += 1
            if answer.ok:
                self.counters.delivered += 1
            else:
                self.counters.failed += 1
                _logger.info(
                    "simulated package: webhook %s for %s failed: %s",
                    bell.event,
                    bell.record_id,
                    answer.error or answer.status,
                )
            self.record(
                bell,
                DELIVERED if answer.ok else FAILED,
                endpoint=endpoint,
                status=answer.status,
                error=answer.error,
                duplicate=bool(copy),
            )

    def request(self, bell: Doorbell, secret: str | None) -> tuple[str | None, str, dict[str, str]]:
        """The Apex's send(): endpoint ``callout:OpenCX_Integration`` resolved now,
        the body, the timestamp and (with a secret) the signature headers."""
        body = bell.body(self.org.id)
        timestamp = str(int(self.org.state.clock.now()))
        headers = {
            contract.HEADER_CONTENT_TYPE: contract.CONTENT_TYPE_JSON,
            contract.HEADER_TIMESTAMP: timestamp,
            "User-Agent": USER_AGENT.format(version=self.org.seed.api_version),
        }
        if secret is not None and secret.strip():  # String.isNotBlank(secret)
            headers[contract.HEADER_SIGNATURE] = contract.sign(secret, timestamp, body)
        return endpoint_of(self.org), body, headers

    def record(
        self,
        bell: Doorbell,
        outcome: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        error: str | None = None,
        duplicate: bool = False,
    ) -> None:
        self.log.append(
            CalloutRecord(
                at=self.org.state.clock.utcnow().isoformat(timespec="milliseconds"),
                event=bell.event,
                case_id=bell.case_id,
                record_id=bell.record_id,
                outcome=outcome,
                endpoint=endpoint,
                status=status,
                error=error,
                duplicate=duplicate,
            )
        )


@contextlib.asynccontextmanager
async def callout_client() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=CALLOUT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        yield session


async def post(
    session: aiohttp.ClientSession, endpoint: str | None, body: str, headers: Mapping[str, str]
) -> Answer:
    """One Apex callout: POST, redirects not followed, no retry."""
    if endpoint is None:
        return Answer(None, error=NAMED_CREDENTIAL_MISSING)
    try:
        async with session.post(
            endpoint, data=body.encode("utf-8"), headers=dict(headers), allow_redirects=False
        ) as response:
            text = await response.text(errors="replace")
            return Answer(response.status, response.reason or "", text)
    except TimeoutError:
        return Answer(None, error=TIMED_OUT)
    except (aiohttp.ClientError, ValueError, OSError):
        return Answer(None, error=UNREACHABLE)
