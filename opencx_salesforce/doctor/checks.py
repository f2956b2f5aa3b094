"""The checks of ``doctor``: is this install's Salesforce side set up, and if not, what to fix.

The checks are data: each :class:`Check` has an id, a title, the checks it
needs, and a coroutine that looks at one thing. :func:`diagnose` runs them in
order; a check whose prerequisite failed (or was skipped) is skipped with the
reason, so one broken thing reports once, not ten times. Every failure and
warning carries a fix, filed under the troubleshooting symptom the admin would
notice first (:data:`SYMPTOMS`).

Order and what each check spends (API calls in brackets):

=================  =====================================================  ====
credentials        the Connected App's Client ID and Secret are saved      0
connection         the plugin holds a grant (or why it needs a new one)    0
api                the API answers the stored token (``/limits``)          1
api_usage          the org's daily API usage, from that same answer        0
case_fields        ``Case_From__c`` and the session-id field (describe)    1
apex               the class and the three triggers, Active (Tooling)      2
named_credential   ``OpenCX_Integration`` points at this install (Tooling) 1
ping               the org calls the webhook (executeAnonymous)            1
outbox             pending work and dead letters (the store only)          0
=================  =====================================================  ====

The checks talk to Salesforce through their own
:class:`~opencx_salesforce.salesforce.client.SalesforceClient` on the plugin's
token manager, so the calls they count are theirs alone, even while the host's
workers use the org at the same time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opencx_salesforce.apex import names
from opencx_salesforce.doctor.probe import (
    masked_webhook_url,
    normalise_url,
    probe_route_in_process,
    probe_webhook,
)
from opencx_salesforce.doctor.report import (
    HANDOFF_WITHOUT_CASE,
    REPLIES_LOST,
    Check,
    Context,
    Outcome,
    fail,
    ok,
    warn,
)
from opencx_salesforce.outbox.queue import job_kind
from opencx_salesforce.salesforce import soql
from opencx_salesforce.salesforce.errors import Forbidden
from opencx_salesforce.salesforce.secrets import SecretsError, mask
from opencx_salesforce.salesforce.tokens import ConnectionState
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.web.admin.messages import CONNECT_FAILS, CREDENTIALS_WONT_SAVE

# Salesforce refuses every call once DailyApiRequests is spent (403
# REQUEST_LIMIT_EXCEEDED). [src: api_rest errorcodes.htm; resources_limits.htm]
USAGE_WARN = 0.80
USAGE_FAIL = 0.95
# Outbox work older than this is late: the workers retry within minutes (the
# backoff cap defaults to 300 s), so something keeps failing.
PENDING_WARN_AGE = 600.0
# What the org runs to prove the whole path: the class's own ping.
PING_APEX = f"{names.CALLOUT_CLASS}.ping();"
# Dead letters listed in a detail (the settings page lists them all).
_LISTED = 5


# --- the checks ------------------------------------------------------------------------


async def _check_credentials(ctx: Context) -> Outcome:
    try:
        creds = await ctx.services.tokens.credentials()
    except SecretsError as exc:
        return fail(
            str(exc),
            "The saved credentials cannot be decrypted with salesforce.encryption_key: put "
            "the old key back (after the new one, comma-separated), or paste the Client ID "
            f"and Client Secret again on the settings page ({ctx.settings_page}).",
        )
    if creds is None:
        return fail(
            "no Client ID and Client Secret are saved or configured",
            f"Paste the Connected App's Client ID, Client Secret and Login URL on the settings "
            f"page ({ctx.settings_page}) and click Save, or set salesforce.client_id and "
            "salesforce.client_secret in the config file.",
        )
    return ok(f"Client ID {mask(creds.client_id)} for {creds.login_url}")


async def _check_connection(ctx: Context) -> Outcome:
    status = await ctx.services.tokens.status()
    reconnect = (
        f"Click Connect on the settings page ({ctx.settings_page}), or run "
        "`opencx-salesforce connect --config FILE`."
    )
    if status.state is ConnectionState.CONNECTED:
        who = status.username or status.user_id or "an unknown user"
        return ok(f"as {who} in org {status.org_id} ({status.instance_url})")
    if status.state is ConnectionState.NEEDS_REAUTHORIZATION:
        return fail(f"needs to be connected again: {status.reason}", reconnect)
    return fail("not connected to Salesforce yet", reconnect)


async def _check_api(ctx: Context) -> Outcome:
    # A spent daily limit (403 REQUEST_LIMIT_EXCEEDED, not a Forbidden) fails this
    # check: the org serves no call, so nothing after it can be looked at.
    try:
        ctx.limits = await ctx.client.limits()
    except Forbidden as exc:
        # Reading /limits needs "View Setup and Configuration"; a 403 still proves
        # the token. [src: api_rest resources_limits.htm]
        ctx.limits_refused = exc
        return ok("Salesforce answers the plugin's token (it may not read the org's limits)")
    token = await ctx.services.tokens.access_token()
    return ok(f"{token.instance_url} answers the plugin's token")


USAGE_FIX = (
    "Salesforce refuses every API call once the org's daily limit is reached, so "
    "handoffs and replies wait in the outbox until calls free up (the count is over the "
    "last 24 hours). Find which integration spends the calls (Setup > Company "
    "Information, or the API Usage report), or raise the limit with Salesforce."
)


async def _check_api_usage(ctx: Context) -> Outcome:
    if ctx.limits_refused is not None or ctx.limits is None:
        return warn(
            "the org's limits cannot be read by the connected user",
            "Grant the user the plugin connects as the View Setup and Configuration "
            "permission, so the doctor (and you) can watch the daily API usage.",
        )
    daily = ctx.limits.get("DailyApiRequests") or {}
    maximum, remaining = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
    if maximum <= 0:
        return warn("the org reports no DailyApiRequests limit", USAGE_FIX)
    used = maximum - remaining
    share = used / maximum
    detail = f"{used:,} of {maximum:,} daily API calls used ({share:.0%}) in the last 24 hours"
    if share >= USAGE_FAIL:
        return fail(detail, USAGE_FIX)
    if share >= USAGE_WARN:
        return warn(detail, USAGE_FIX)
    return ok(detail)


async def _check_case_fields(ctx: Context) -> Outcome:
    settings = ctx.services.settings
    describe = await ctx.client.describe("Case")
    # Describe leaves out fields the user may not see (field-level security).
    # [src: apexcode apex_dynamic_permissions.htm; the REST describe alike: UNCONFIRMED]
    fields: dict[str, Mapping[str, Any]] = {
        str(f.get("name")): f for f in describe.get("fields", []) if isinstance(f, Mapping)
    }
    missing: list[str] = []
    wrong: list[str] = []
    flags: list[str] = []
    readonly: list[str] = []

    def text_field(name: str, min_length: int) -> Mapping[str, Any] | None:
        item = fields.get(name)
        if item is None:
            missing.append(name)
            return None
        if item.get("type") != "string":
            wrong.append(f"{name} is of type {item.get('type')}, expected Text")
        elif int(item.get("length") or 0) < min_length:
            wrong.append(f"{name} holds {item.get('length')} characters, needs {min_length}")
        if not (item.get("createable") and item.get("updateable")):
            readonly.append(name)
        return item

    text_field(names.CASE_FROM_FIELD, len(settings.case_from_value))
    session = text_field(settings.session_id_field, 1)
    if session is not None:
        # Upsert by this field needs an External ID; Unique stops two Cases for one
        # session. [src: api_rest dome_upsert.htm]
        if not session.get("externalId"):
            flags.append(f"{settings.session_id_field} is not an External ID")
        if not session.get("unique"):
            flags.append(f"{settings.session_id_field} is not Unique")

    problems = [f"{n} is missing (or hidden from the connected user)" for n in missing]
    problems += wrong + flags + [f"{n} is read-only for the connected user" for n in readonly]
    if not problems:
        return ok(
            f"{names.CASE_FROM_FIELD} (Text) and {settings.session_id_field} "
            "(Text, External ID, Unique)"
        )
    fixes: list[str] = []
    if missing or readonly:
        fixes.append(
            "Deploy the package (`opencx-salesforce apex --config FILE --out DIR`, then "
            "`sf project deploy start --source-dir force-app` in DIR): it creates both fields. "
            f"Then assign its permission set {names.PERMISSION_SET} to the user the plugin "
            "connects as (fields deployed from source are visible to no one until granted)."
        )
    if wrong or flags:
        fixes.append(
            "In Setup > Object Manager > Case > Fields & Relationships, edit the field: "
            f"{names.CASE_FROM_FIELD} and {settings.session_id_field} are Text fields, and "
            f"{settings.session_id_field} has Unique and External ID ticked (or delete the "
            "field and deploy the package again)."
        )
    return fail("; ".join(problems), " ".join(fixes))


_DEPLOY_FIX = (
    "Generate this install's package (`opencx-salesforce apex --config FILE --out DIR`) and "
    "deploy it (`sf project deploy start --source-dir force-app` in DIR); its README has "
    "the production variant with tests."
)


async def _check_apex(ctx: Context) -> Outcome:
    classes = await ctx.client.tooling_query(
        "SELECT Id, Name, Status, IsValid FROM ApexClass "
        f"WHERE Name = {soql.literal(names.CALLOUT_CLASS)}"
    )
    trigger_names = ", ".join(soql.literal(n) for n in names.TRIGGERS)
    triggers = await ctx.client.tooling_query(
        "SELECT Id, Name, Status, IsValid, TableEnumOrId FROM ApexTrigger "
        f"WHERE Name IN ({trigger_names})"
    )
    absent: list[str] = []
    inactive: list[str] = []
    stale: list[str] = []
    found_class = _by_name(classes, "Name").get(names.CALLOUT_CLASS)
    if found_class is None or found_class.get("Status") != "Active":
        absent.append(f"class {names.CALLOUT_CLASS}")
    elif found_class.get("IsValid") is False:
        stale.append(f"class {names.CALLOUT_CLASS}")
    found_triggers = _by_name(triggers, "Name")
    for trigger, (sobject, _events) in names.TRIGGERS.items():
        record = found_triggers.get(trigger)
        if record is None or record.get("Status") == "Deleted":
            absent.append(f"trigger {trigger}")
        elif record.get("TableEnumOrId") != sobject:
            absent.append(
                f"trigger {trigger} on {sobject} (found on {record.get('TableEnumOrId')})"
            )
        elif record.get("Status") != "Active":
            inactive.append(f"trigger {trigger} is {record.get('Status')}")
        elif record.get("IsValid") is False:
            stale.append(f"trigger {trigger}")
    if absent or inactive:
        problems = [f"{a} is not deployed" for a in absent] + inactive
        fixes: list[str] = []
        if absent:
            fixes.append(_DEPLOY_FIX)
        if inactive:
            # Setup edits Apex only in Developer Edition and sandbox orgs; production
            # takes it through a deploy. [src: help platform.code_manage_triggers.htm]
            fixes.append(
                "Activate the trigger: in a sandbox or Developer Edition, Setup > Apex "
                "Triggers > Edit > Is Active; in production, deploy the package again (its "
                "triggers are Active)."
            )
        return fail("; ".join(problems), " ".join(fixes))
    if stale:
        # IsValid false: something the code depends on changed since it compiled;
        # the platform recompiles it on its next run. [src: tooling-apextrigger.html]
        return warn(
            f"{', '.join(stale)} must be recompiled (metadata it depends on changed)",
            "Salesforce recompiles it when it next runs; to find errors now, Setup > Apex "
            "Classes > Compile all classes.",
        )
    return ok(
        f"deployed and Active: class {names.CALLOUT_CLASS}, triggers {', '.join(names.TRIGGERS)}"
    )


async def _check_named_credential(ctx: Context) -> Outcome:
    answer = await ctx.client.tooling_query(
        "SELECT Id, DeveloperName, Endpoint FROM NamedCredential "
        f"WHERE DeveloperName = {soql.literal(names.NAMED_CREDENTIAL)}"
    )
    record = _by_name(answer, "DeveloperName").get(names.NAMED_CREDENTIAL)
    if record is None:
        return fail(f"Named Credential {names.NAMED_CREDENTIAL} is not in the org", _DEPLOY_FIX)
    endpoint = str(record.get("Endpoint") or "")
    if normalise_url(endpoint) == normalise_url(ctx.services.webhook_url):
        return ok(f"URL {ctx.masked_webhook_url}")
    return fail(
        f"{names.NAMED_CREDENTIAL} points at {masked_webhook_url(endpoint)}, not at "
        f"this install's webhook {ctx.masked_webhook_url}",
        "Generate the package again (`opencx-salesforce apex --config FILE --out DIR`) and "
        f"deploy it, or in Setup > Named Credentials > {names.NAMED_CREDENTIAL} set the URL to "
        f"the Webhook URL shown on the settings page ({ctx.settings_page}).",
    )


# Anonymous Apex runs as the connected user: it needs API Enabled and Author Apex,
# and Customize Application for a callout through a Named Credential.
# [src: apexcode apex_anonymous_block.htm "User Permissions Needed"]
_PING_PERMISSIONS_FIX = (
    "The ping runs as the user the plugin connects as, which needs the API Enabled and "
    "Author Apex permissions, and Customize Application for a callout through a Named "
    "Credential. Grant them, or run the same ping as an admin from the package folder: "
    "`sf apex run --file scripts/apex/ping.apex --target-org my-org`."
)


async def _check_ping(ctx: Context) -> Outcome:
    try:
        result = await ctx.client.execute_anonymous(PING_APEX)
    except Forbidden as exc:
        return fail(f"Salesforce refused to run the ping: {exc.message}", _PING_PERMISSIONS_FIX)
    if not result.get("compiled"):
        return fail(
            f"the org could not compile `{PING_APEX}`: {result.get('compileProblem')}",
            _DEPLOY_FIX,
        )
    if result.get("success"):
        return ok(
            "the org called this install's webhook through the Named Credential and got a "
            "2xx answer: class, Named Credential and network path work"
        )
    message = str(result.get("exceptionMessage") or "no message")
    services = ctx.services
    probe = await probe_webhook(services, services.webhook_url)
    public = services.host.public_url
    if probe.status is None:
        local = await probe_route_in_process(services)
        route = (
            "run here, the plugin's webhook route accepts this install's token and signature"
            if local.status == 202
            else f"run here, the plugin's webhook route answers {local.status or local.error}"
        )
        outcome = warn if local.status == 202 else fail
        return outcome(
            f"the org's ping failed ({message}), and nothing answers at {public} from this "
            f"machine ({probe.error}): the host is not running. The ping needs the host's "
            f"HTTP server up; {route}",
            "Start the host (`opencx-salesforce serve --config FILE`) and run the doctor again.",
        )
    if probe.status == 202:
        # The generated class's own wording: "OpenCX webhook answered <code> ...".
        if "answered 401" in message:
            return fail(
                f"the org's ping was refused ({message}), though the webhook accepts this "
                "install's own signed ping",
                "The deployed package carries another signing secret than "
                "salesforce.webhook_signing_secret: generate the package again "
                "(`opencx-salesforce apex --config FILE --out DIR`) and deploy it.",
            )
        return fail(
            f"the org's ping failed ({message}), though the webhook answers from this machine",
            f"Salesforce must reach {public} from the internet: an https URL with a "
            "certificate from a public CA, a public DNS name, and no firewall or VPN in the "
            "way. Fix that, then run the doctor again.",
        )
    return fail(
        f"the org's ping failed ({message}); the host at {public} answers "
        f"{probe.status} to this install's own signed ping",
        _ROUTE_FIXES.get(
            probe.status,
            "Check the host's log for the webhook request and what it answered.",
        ),
    )


_ROUTE_FIXES: dict[int, str] = {
    401: "The running host refuses this install's webhook token or signature: it uses "
    "another store (host.store_url) or another salesforce.webhook_signing_secret than "
    "this config. Run the doctor with the host's own config.",
    404: "Nothing is mounted at /integrations/salesforce there: public_url points at "
    "another server, or the host runs without the salesforce plugin (host.plugins).",
    503: "The host runs, but the Salesforce plugin did not start: see the host's log.",
}


async def _check_outbox(ctx: Context) -> Outcome:
    items = await ctx.services.outbox.items()
    now = time.time()
    dead = [i for i in items if i.state is ItemState.DEAD]
    pending = [i for i in items if i.state is not ItemState.DEAD]
    oldest = min(pending, key=lambda i: i.enqueued_at) if pending else None
    waiting = (
        f"{len(pending)} job(s) pending, the oldest {_age(now - oldest.enqueued_at)} old"
        if oldest is not None
        else "nothing pending"
    )
    if dead:
        listed = "; ".join(
            f"{job_kind(i)} {i.item_id}: {i.last_error or 'no error recorded'}"
            for i in dead[:_LISTED]
        )
        more = f" (and {len(dead) - _LISTED} more)" if len(dead) > _LISTED else ""
        lost_cases = any(job_kind(i) in ("handoff", "append") for i in dead)
        return fail(
            f"{len(dead)} dead letter(s) ({waiting}): {listed}{more}",
            "The plugin gave up on this work. Fix the cause its error names (the checks "
            "above may show it), then click Retry all dead letters on the settings page "
            f"({ctx.settings_page}).",
            HANDOFF_WITHOUT_CASE if lost_cases else REPLIES_LOST,
        )
    if oldest is not None and now - oldest.enqueued_at >= PENDING_WARN_AGE:
        error = f"; its last error: {oldest.last_error}" if oldest.last_error else ""
        return warn(
            f"{waiting}{error}",
            "The host retries with backoff; the error names what keeps failing (often the "
            "checks above). Is the host running?",
            REPLIES_LOST if job_kind(oldest) not in ("handoff", "append") else None,
        )
    return ok(f"{waiting}, no dead letters")


CHECKS: tuple[Check, ...] = (
    Check(
        "credentials",
        "Connected App credentials saved",
        CREDENTIALS_WONT_SAVE,
        (),
        _check_credentials,
    ),
    Check(
        "connection", "Connected to Salesforce", CONNECT_FAILS, ("credentials",), _check_connection
    ),
    Check(
        "api",
        "Salesforce API answers the stored token",
        HANDOFF_WITHOUT_CASE,
        ("connection",),
        _check_api,
    ),
    Check("api_usage", "Daily API usage", HANDOFF_WITHOUT_CASE, ("api",), _check_api_usage),
    Check(
        "case_fields",
        f"Case fields {names.CASE_FROM_FIELD} and the session id",
        HANDOFF_WITHOUT_CASE,
        ("api",),
        _check_case_fields,
    ),
    Check("apex", "Apex class and triggers active", REPLIES_LOST, ("api",), _check_apex),
    Check(
        "named_credential",
        f"Named Credential {names.NAMED_CREDENTIAL} points at this install",
        REPLIES_LOST,
        ("api",),
        _check_named_credential,
    ),
    Check(
        "ping",
        "The org reaches the webhook (test ping)",
        REPLIES_LOST,
        ("apex", "named_credential"),
        _check_ping,
    ),
    Check("outbox", "Outbox and dead letters", HANDOFF_WITHOUT_CASE, (), _check_outbox),
)


def _by_name(answer: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    return {str(r.get(key)): r for r in answer.get("records", []) if isinstance(r, Mapping)}


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
