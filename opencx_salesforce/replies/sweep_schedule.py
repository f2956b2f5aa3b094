"""When the next reconciliation sweep runs (issue #18: cheap when quiet, prompt
when it matters).

* **Rare** (``sweep_digest_interval_seconds``, 1800 s) while the package's
  digest arrives on time (:mod:`.digest`): the org itself lists the changes on
  the plugin's Cases once a minute, at no API call, so a lost doorbell's reply
  comes with the next digest and the sweep is only the last resort.
* **Prompt** (``sweep_interval_seconds``, 60 s) while the webhooks are not known
  to be healthy: after a start, a sweep that delivered, resolved or moved
  anything (a webhook was missed), a refused webhook call, a failed sweep, a
  digest overdue (none for ``digest_overdue_seconds`` after one came); and,
  with no digest arriving, while a conversation is in progress, i.e. anything
  happened on the plugin's Cases in the last ``sweep_hot_seconds``
  (:mod:`.activity`).
* **Quiet** (``sweep_healthy_interval_seconds``, 300 s) otherwise.

With several host instances, the interval is counted from the last sweep any
of them ran, and one whose wait ends sweeps only if none has swept since
(:mod:`.sweep_turns`): together they sweep at this cadence, not once each.

The wait between two sweeps wakes every prompt interval to look at the activity
and the digest (store reads, no API call), so activity during a quiet wait, or
a digest going overdue, brings the next sweep forward to at most a prompt
interval after it.
"""

from __future__ import annotations

import logging
import random

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.replies.activity import Activity
from opencx_salesforce.replies.digest import DigestInbox
from opencx_salesforce.replies.status import ReplyStatus, SweepReport
from opencx_salesforce.settings import SalesforceSettings

log = logging.getLogger(__name__)


def found_nothing(report: SweepReport | None, error: str | None) -> bool:
    """Whether a sweep says the webhooks missed nothing: it ran, did not fail,
    caught up, had open Cases to look at and found nothing to deliver, resolve
    or move. What an instance records for the others (:mod:`.sweep_turns`)."""
    return (
        report is not None
        and error is None
        and report.caught_up
        and not report.idle
        and report.delivered + report.resolved + report.moved == 0
    )


class SweepSchedule:
    def __init__(
        self,
        *,
        settings: SalesforceSettings,
        status: ReplyStatus,
        activity: Activity,
        digests: DigestInbox | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._status = status
        self._activity = activity
        self._digests = digests
        self._clock = clock
        self._refused_seen = 0  # refused webhook calls counted at the last judgement
        self._truncated_seen = 0  # truncated digests counted at the last judgement
        self._healthy = False  # what the last sweep said of the webhooks
        self._digest_was_on_time = False  # at the last look: a loss when it stops
        # What another instance's sweep found, when this instance let its turn
        # pass to it (None: judged by its own last sweep).
        self._theirs: bool | None = None

    def adopt(self, found: bool | None) -> None:
        """The last sweep was another instance's, which found ``found``; None:
        this instance's own (``status.last_sweep``)."""
        self._theirs = found

    def judge(self) -> bool:
        """Whether the last sweep says the webhooks are healthy: it found nothing
        they had missed, did not fail, and none was refused since the one before.
        Called once after each sweep."""
        status = self._status
        refused = self._refused()
        refused_since, self._refused_seen = refused > self._refused_seen, refused
        # A digest that could not list everything: the sweep reads the rest.
        truncated = status.digests_truncated
        truncated_since, self._truncated_seen = truncated > self._truncated_seen, truncated
        found = self._theirs
        if found is None:
            found = found_nothing(status.last_sweep, status.last_sweep_error)
        # Refusals and truncated digests are this instance's own news: the
        # sweeper may not have heard of them.
        self._healthy = found and not refused_since and not truncated_since
        return self._healthy

    def _note_refusals(self) -> None:
        """A webhook call refused during a quiet wait (a package deployed with
        another secret, say) makes the next sweep prompt, as the judgement after
        a sweep would: the wait looked only at the activity and the digest, and
        a refused reply waited out the quiet interval (three minutes seen)."""
        if self._refused() > self._refused_seen:
            self._healthy = False

    def _refused(self) -> int:
        """Webhook calls refused since the instance started."""
        return sum(self._status.webhooks_refused.values())

    async def is_hot(self) -> bool:
        """Whether a conversation is in progress (activity in the hot window)."""
        return await self._activity.hot(self._settings.sweep_hot_seconds)

    async def digest_on_time(self) -> bool:
        """Whether the package's digest came within ``digest_overdue_seconds``.
        One that stops coming counts as a lost webhook, once (a prompt sweep
        follows; if it finds nothing missed, the schedule goes on without the
        digest until one arrives again)."""
        if self._digests is None:
            return False
        last = await self._digests.last_at()
        on_time = last is not None and (
            self._clock.time() - last < self._settings.digest_overdue_seconds
        )
        if self._digest_was_on_time and not on_time:
            overdue = self._settings.digest_overdue_seconds
            log.warning("no digest from the package for %.0f s: sweeping promptly", overdue)
            self._healthy = False
        if self._status.digests_truncated > self._truncated_seen:
            self._healthy = False  # a digest could not list everything: read the rest now
        self._digest_was_on_time = on_time
        return on_time

    def interval(self, *, hot: bool, digest: bool = False) -> float:
        """Seconds from one sweep's start to the next one's."""
        if not self._healthy:
            return self._settings.sweep_interval_seconds
        if digest:
            return self._settings.sweep_digest_interval_seconds
        if hot:
            return self._settings.sweep_interval_seconds
        return self._settings.sweep_healthy_interval_seconds

    async def next_interval(self) -> float:
        """The interval after the sweep that just ran, judged now."""
        self.judge()
        digest = await self.digest_on_time()
        return self.interval(hot=await self.is_hot(), digest=digest)

    async def wait_after(self, started: float) -> None:
        """Judge the sweep that began at ``started`` (this instance's or
        another's) and sleep until the next is due."""
        self.judge()
        prompt_interval = self._settings.sweep_interval_seconds
        # A little jitter so host instances started together do not all wake at
        # once only to find the lock taken; never above the prompt interval, the
        # bound a lost webhook's reply is promised, and centred on the quiet one
        # so that its cost per day is as documented.
        prompt, quiet = random.uniform(0.9, 1.0), random.uniform(0.9, 1.1)
        while True:
            self._note_refusals()
            try:
                digest = await self.digest_on_time()
                hot = await self.is_hot()
            except Exception as exc:  # the store failing must not end the sweep
                log.warning("sweep: could not read the activity: %s", exc)
                digest, hot = False, True
            interval = self.interval(hot=hot, digest=digest)
            due = interval * (prompt if interval == prompt_interval else quiet)
            wait = started + due - self._clock.time()
            if wait <= 0:
                return
            await self._clock.sleep(min(wait, prompt_interval * prompt))
