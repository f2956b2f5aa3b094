"""``doctor``: is this install's Salesforce side set up, and if not, what to fix.

* :mod:`.checks` the checks, as data (:data:`~.checks.CHECKS`), in order
* :mod:`.report` what a check finds and what the doctor reports
* :mod:`.probe`  reaching the webhook from here (the signed test ping)

:func:`diagnose` runs the checks in order; a check whose prerequisite failed (or
was skipped) is skipped with the reason, so one broken thing reports once, not
ten times.
"""

from __future__ import annotations

from opencx_salesforce.doctor.checks import CHECKS, USAGE_FIX
from opencx_salesforce.doctor.probe import masked_webhook_url, normalise_url
from opencx_salesforce.doctor.report import (
    HANDOFF_WITHOUT_CASE,
    KEY_CHANGED,
    NEEDS_REAUTHORIZATION,
    REPLIES_LOST,
    STORE_LOST,
    SYMPTOMS,
    Check,
    CheckResult,
    Context,
    DoctorReport,
    Outcome,
    Status,
    fail,
)
from opencx_salesforce.runtime import Runtime
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import (
    Forbidden,
    NeedsReauthorization,
    RequestLimitExceeded,
    SalesforceError,
    TransportError,
)

# --- running ---------------------------------------------------------------------------


async def run_checks(services: Runtime) -> list[CheckResult]:
    """Every check, in order (what a settings page shows)."""
    return (await diagnose(services)).results


async def diagnose(services: Runtime) -> DoctorReport:
    """Run every check against the running ``services``; count the API calls."""
    client = SalesforceClient(
        services.tokens, api_version=services.settings.api_version, session=services.http
    )
    ctx = Context(services, client)
    results: dict[str, CheckResult] = {}
    # Check id -> the failed check that stopped it (itself, when it failed).
    blocker: dict[str, str] = {}
    for check in CHECKS:
        stopped_by = next((blocker[n] for n in check.needs if results[n].status in _BLOCKING), None)
        if stopped_by is not None:
            blocker[check.id] = stopped_by
            outcome = Outcome(
                Status.SKIP, f"not checked: '{results[stopped_by].title}' must pass first"
            )
        else:
            outcome = await _run_one(check, ctx)
        if outcome.status is Status.FAIL:
            blocker[check.id] = check.id
        results[check.id] = CheckResult(
            id=check.id,
            title=check.title,
            status=outcome.status,
            detail=outcome.detail,
            fix=outcome.fix,
            symptom=(outcome.symptom or check.symptom) if outcome.fix else None,
        )
    return DoctorReport(list(results.values()), client.calls, ctx.masked_webhook_url)


_BLOCKING = (Status.FAIL, Status.SKIP)


async def _run_one(check: Check, ctx: Context) -> Outcome:
    try:
        return await check.run(ctx)
    except SalesforceError as exc:
        return _salesforce_trouble(exc, ctx)
    except Exception as exc:  # a diagnostic must report, not crash, on the unexpected
        return fail(
            f"the check itself failed: {type(exc).__name__}: {exc}",
            "Run the doctor again; if it keeps failing, report it with this message.",
        )


def _salesforce_trouble(exc: SalesforceError, ctx: Context) -> Outcome:
    """The usual ways a call to the org fails, each with its fix."""
    if isinstance(exc, NeedsReauthorization):
        return fail(
            f"Salesforce refused the plugin's token: {exc.message}",
            f"Click Connect on the settings page ({ctx.settings_page}), or run "
            "`opencx-salesforce connect --config FILE`. Queued work waits and resumes once "
            "connected.",
        )
    if isinstance(exc, RequestLimitExceeded) and exc.concurrency:
        # Not the daily quota (doctor said so, quoting Salesforce's words that
        # contradicted it): too many long requests at once, in this org.
        return fail(
            f"Salesforce refuses calls for now: too many long-running requests run at once "
            f"in the org ({exc.message})",
            "It clears as those requests finish; the plugin's work waits and retries. If it "
            "lasts, find the integration that holds long requests open (Setup > Apex Jobs, "
            "API Usage), then run the doctor again.",
        )
    if isinstance(exc, RequestLimitExceeded):
        return fail(
            f"Salesforce refuses every call: the org's daily API limit is spent ({exc.message})",
            USAGE_FIX,
            HANDOFF_WITHOUT_CASE,
        )
    if isinstance(exc, TransportError):
        said = exc.message  # it names Salesforce already ("could not reach Salesforce (…)")
        return fail(
            said if said.startswith("could not reach") else f"could not reach Salesforce: {said}",
            "Check that this server may open HTTPS connections to the org's instance URL "
            "(proxy, firewall, DNS), then run the doctor again.",
        )
    if isinstance(exc, Forbidden):
        return fail(
            f"Salesforce refused: {exc.message}",
            "The user the plugin connects as needs the API Enabled and View Setup and "
            "Configuration permissions (a System Administrator has both); grant them and "
            "run the doctor again.",
        )
    return fail(
        f"Salesforce answered with an error: {exc.message}",
        "See Salesforce's message above; fix what it names and run the doctor again.",
    )


__all__ = [
    "CHECKS",
    "HANDOFF_WITHOUT_CASE",
    "KEY_CHANGED",
    "NEEDS_REAUTHORIZATION",
    "REPLIES_LOST",
    "STORE_LOST",
    "SYMPTOMS",
    "CheckResult",
    "DoctorReport",
    "Status",
    "diagnose",
    "masked_webhook_url",
    "normalise_url",
    "run_checks",
]
