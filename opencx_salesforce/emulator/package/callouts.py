"""The Queueable jobs' callouts: one POST per doorbell to the Named Credential's
Endpoint, the contract's body and headers, a 10 s timeout, no redirects; the
platform retries nothing [src: apexcode apex_callouts_timeouts.htm; SALESFORCE.md
§7], the generated class does: a doorbell whose callout failed goes to a job of its
own, after 1, 2, 5, then 10 minutes, then to the plugin's sweep (its execute() and
RETRY_DELAYS_MINUTES). A delayed job waits on the org's clock (so a test moves
time instead of waiting minutes) and, as on the platform, holds up no other job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

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
    RETRY_DELAYS_MINUTES,
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

# How often a delayed job looks at the org's clock (which tests move by hand).
DELAY_POLL_SECONDS: Final = 0.2

# A doorbell, how many copies the duplicate knob sends, its failed callouts so far.
Delivery = tuple[Doorbell, int, int]


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
    _retry_tasks: set[asyncio.Task[None]]
    _last_job: asyncio.Task[None] | None

    def enqueue(self, bells: list[Doorbell]) -> None:
        delay = self.faults.draw_delay()
        deliveries: list[Delivery] = []
        for bell in bells:
            if self.faults.draw_drop():
                self.counters.dropped += 1
                self.record(bell, DROPPED)
                continue
            deliveries.append((bell, self._copies(), 0))
        previous = None if self.faults.reorder else self._last_job
        task = self._start(self._run_job(deliveries, delay, previous))
        self._last_job = task

    def _copies(self) -> int:
        return 2 if self.faults.draw_duplicate() else 1

    def _start(self, job: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_job(
        self,
        deliveries: list[Delivery],
        delay: float,
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})  # FIFO, whatever became of the previous job
        if delay:
            await asyncio.sleep(delay)
        await self._execute(deliveries)

    async def _execute(self, deliveries: list[Delivery]) -> None:
        """The Apex's execute(), its chained jobs run in line (they come next in
        the queue anyway); a retry job is enqueued apart, for later."""
        secret = self.signing_secret  # execute() reads the secret once per job
        loop = asyncio.get_running_loop()
        async with callout_client() as session:
            while deliveries:
                self.counters.jobs += 1
                started, failed, rest = loop.time(), list[Delivery](), list[Delivery]()
                for made, (bell, copies, failures) in enumerate(deliveries):
                    elapsed = loop.time() - started
                    if made >= MAX_CALLOUTS_PER_JOB or (
                        elapsed + CALLOUT_TIMEOUT_SECONDS > CALLOUT_TIME_BUDGET_SECONDS
                    ):
                        rest = deliveries[made:]  # mayCallOut() said no
                        break
                    ok = await self._deliver(session, bell, copies, secret)
                    if not ok and failures < len(RETRY_DELAYS_MINUTES):
                        failed.append((bell, 1, failures + 1))
                # A running job chains one job: the failed ride along behind the rest.
                deliveries = rest + failed if rest else []
                if failed and not rest:
                    self._retry_later(failed)

    def _retry_later(self, failed: list[Delivery]) -> None:
        """chain(job, retryDelayMinutes(failed)): the delay of the doorbell that
        failed most often; the duplicate knob draws again for each retried call."""
        minutes = RETRY_DELAYS_MINUTES[max(failures for _, _, failures in failed) - 1]
        due = self.org.state.clock.now() + 60.0 * minutes
        self.counters.retries += 1
        retried = [(bell, self._copies(), failures) for bell, _, failures in failed]
        self._delayed(self._run_retry(retried, due))

    def _delayed(self, job: Coroutine[Any, Any, None]) -> None:
        """A job that waits minutes: not one that draining the queue waits for."""
        task = asyncio.get_running_loop().create_task(job)
        self._retry_tasks.add(task)
        task.add_done_callback(self._retry_tasks.discard)

    async def _run_retry(self, deliveries: list[Delivery], due: float) -> None:
        clock = self.org.state.clock
        # Polled: the org's clock can be moved by hand, and says nothing when it is.
        while (left := due - clock.now()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, DELAY_POLL_SECONDS))
        # Due now: from here it is a job like any other (drain waits for it).
        await self._start(self._execute(deliveries))

    async def _deliver(
        self, session: aiohttp.ClientSession, bell: Doorbell, copies: int, secret: str | None
    ) -> bool:
        """Send the doorbell (twice under the duplicate knob); whether the Apex's
        one callout, the first, succeeded."""
        endpoint, body, headers = self.request(bell, secret)
        first_ok = False
        for copy in range(copies):
            answer = await post(session, endpoint, body, headers)
            self.counters.sent += 1
            if copy:
                self.counters.duplicated += 1
            else:
                first_ok = answer.ok
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
        return first_ok

    def request(self, bell: Doorbell, secret: str | None) -> tuple[str | None, str, dict[str, str]]:
        """The Apex's send(): endpoint ``callout:OpenCX_Integration`` resolved now,
        the body, the timestamp and (with a secret) the signature headers."""
        body = bell.body(self.org.id)
        endpoint, headers = self.request_for(body, secret)
        return endpoint, body, headers

    def request_for(self, body: str, secret: str | None) -> tuple[str | None, dict[str, str]]:
        """send(body, secret): the endpoint resolved now, and the headers."""
        timestamp = str(int(self.org.state.clock.now()))
        headers = {
            contract.HEADER_CONTENT_TYPE: contract.CONTENT_TYPE_JSON,
            contract.HEADER_TIMESTAMP: timestamp,
            "User-Agent": USER_AGENT.format(version=self.org.seed.api_version),
        }
        if secret is not None and secret.strip():  # String.isNotBlank(secret)
            headers[contract.HEADER_SIGNATURE] = contract.sign(secret, timestamp, body)
        return endpoint_of(self.org), headers

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
