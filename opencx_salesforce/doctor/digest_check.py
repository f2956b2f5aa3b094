"""The doctor's look at the package's digest (apex/digest_contract.py): whether
one reached this install lately. It asks the store when the last digest arrived
(any host instance writes it), not the org: no API call, and it proves the whole
path (scheduled, its callout through the Named Credential, this route) at once."""

from __future__ import annotations

from opencx_salesforce.apex import names
from opencx_salesforce.doctor.report import Context, Outcome, ok, warn

_START_FIX = (
    "Start the digest once after each deploy: `sf apex run --file "
    'scripts/apex/start-digest.apex --target-org <alias>` (the package README, "Start the '
    f'digest"), as a user holding {names.CALLOUT_PERMISSION_SET} (with the current Named '
    f"Credential). Setup → Scheduled Jobs then lists one job named '{names.DIGEST_JOB_PREFIX}…'."
)


async def check_digest(ctx: Context) -> Outcome:
    services = ctx.services
    last = await services.digests.last_at()
    overdue = services.settings.digest_overdue_seconds
    if last is None:
        # The first digest comes a minute after ``start()``: an admin who runs the
        # doctor right after starting it (as admin-setup.md's steps go) is told so,
        # not only that it may not be started.
        return warn(
            "no digest has reached this install yet. The first one comes about a minute "
            "after the digest is started: if you started it just now, run the check again "
            "in a minute. Otherwise it is not started, or its calls fail. Replies still "
            "arrive, but one whose webhook call is lost waits for the plugin's sweep "
            "(minutes, and API calls) instead of the next minute's digest",
            _START_FIX,
        )
    age = max(0.0, services.clock.time() - last)
    if age >= overdue:
        return warn(
            f"the last digest came {age:.0f} s ago (it comes every minute): the job stopped "
            "(aborted, or not started again after a deploy) or its calls fail; the plugin "
            "sweeps more often meanwhile",
            _START_FIX,
        )
    return ok(
        f"the last digest came {age:.0f} s ago: a reply whose webhook call is lost arrives "
        "within about a minute, at no API call"
    )
