"""When the next reconciliation sweep runs (issue #18: cheap when quiet, prompt
when it matters).

* **Prompt** (``sweep_interval_seconds``, 60 s) while a conversation is in
  progress, i.e. anything happened on the plugin's Cases in the last
  ``sweep_hot_seconds`` (:mod:`.activity`), and while the webhooks are not known
  to be healthy: after a start, a sweep that delivered, resolved or moved
  anything (a webhook was missed), a refused webhook call, a failed sweep.
* **Quiet** (``sweep_healthy_interval_seconds``, 300 s) otherwise.

The wait between two sweeps wakes every prompt interval to look at the activity
(one store read, no API call), so activity during a quiet wait brings the next
sweep forward to at most a prompt interval after it.
"""

from __future__ import annotations

import logging
import random

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.replies.activity import Activity
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.settings import SalesforceSettings

log = logging.getLogger(__name__)


class SweepSchedule:
    def __init__(
        self,
        *,
        settings: SalesforceSettings,
        status: ReplyStatus,
        activity: Activity,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._status = status
        self._activity = activity
        self._clock = clock
        self._refused_seen = 0  # refused webhook calls counted at the last judgement
        self._healthy = False  # what the last sweep said of the webhooks

    def judge(self) -> bool:
        """Whether the last sweep says the webhooks are healthy: it found nothing
        they had missed, did not fail, and none was refused since the one before.
        Called once after each sweep."""
        status = self._status
        refused = sum(status.webhooks_refused.values())
        refused_since, self._refused_seen = refused > self._refused_seen, refused
        report = status.last_sweep
        self._healthy = (
            report is not None
            and status.last_sweep_error is None
            and not refused_since
            and report.caught_up
            and not report.idle
            and report.delivered + report.resolved + report.moved == 0
        )
        return self._healthy

    async def is_hot(self) -> bool:
        """Whether a conversation is in progress (activity in the hot window)."""
        return await self._activity.hot(self._settings.sweep_hot_seconds)

    def interval(self, *, hot: bool) -> float:
        """Seconds from one sweep's start to the next one's."""
        if hot or not self._healthy:
            return self._settings.sweep_interval_seconds
        return self._settings.sweep_healthy_interval_seconds

    async def next_interval(self) -> float:
        """The interval after the sweep that just ran, judged now."""
        self.judge()
        return self.interval(hot=await self.is_hot())

    async def wait_after(self, started: float) -> None:
        """Judge the sweep that began at ``started`` and sleep until the next."""
        self.judge()
        prompt_interval = self._settings.sweep_interval_seconds
        # A little jitter so host instances started together do not all wake at
        # once only to find the lock taken; never above the prompt interval, the
        # bound a lost webhook's reply is promised, and centred on the quiet one
        # so that its cost per day is as documented.
        prompt, quiet = random.uniform(0.9, 1.0), random.uniform(0.9, 1.1)
        while True:
            try:
                hot = await self.is_hot()
            except Exception as exc:  # the store failing must not end the sweep
                log.warning("sweep: could not read the activity: %s", exc)
                hot = True
            interval = self.interval(hot=hot)
            due = interval * (prompt if interval == prompt_interval else quiet)
            wait = started + due - self._clock.time()
            if wait <= 0:
                return
            await self._clock.sleep(min(wait, prompt_interval * prompt))
