"""The checks of ``doctor``: is this install's Salesforce side set up, and if
not, what to fix.

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
email_message      the org has EmailMessage, else ``--no-email`` (global)  1
apex               the class and the three triggers, Active (Tooling)      2
named_credential   ``OpenCX_Integration`` points at this install (Tooling) 1
ping               the org calls the webhook (executeAnonymous)            1
digest             a digest arrived lately (the store only)                0
outbox             pending work and dead letters (the store only)          0
store              the store takes a write; PostgreSQL: schema version;    0
                   Redis: persistence on; no wipe left unrecovered
live               the Messaging deployment gives a token (Custom Client)  0
live_field         the session-id field on MessagingSession (describe)     1
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
from opencx_salesforce.doctor.digest_check import check_digest
from opencx_salesforce.doctor.live_check import check_live, check_live_field
from opencx_salesforce.doctor.package_checks import (
    check_apex,
    check_email_message,
    check_named_credential,
    check_ping,
)
from opencx_salesforce.doctor.report import (
    HANDOFF_WITHOUT_CASE,
    KEY_CHANGED,
    NEEDS_REAUTHORIZATION,
    REPLIES_LOST,
    STORE_LOST,
    Check,
    Context,
    Outcome,
    Status,
    fail,
    ok,
    warn,
)
from opencx_salesforce.outbox.queue import job_kind
from opencx_salesforce.salesforce.errors import Forbidden
from opencx_salesforce.salesforce.secrets import SecretsError, mask
from opencx_salesforce.salesforce.tokens import ConnectionState
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.epoch import describe, still_unresolved
from opencx_salesforce.store.probe import probe_write
from opencx_salesforce.web.admin.messages import (
    CONNECT_FAILS,
    CREDENTIALS_WONT_SAVE,
    STORE_REFUSES_WRITES,
)

# Salesforce refuses every call once DailyApiRequests is spent (403
# REQUEST_LIMIT_EXCEEDED). [src: api_rest errorcodes.htm; resources_limits.htm]
USAGE_WARN = 0.80
USAGE_FAIL = 0.95
# Outbox work older than this is late: the workers retry within minutes (the
# backoff cap defaults to 300 s), so something keeps failing.
PENDING_WARN_AGE = 600.0
_PROBE_NAMESPACE = "salesforce.doctor"
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
            KEY_CHANGED,
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
        return fail(
            f"needs to be connected again: {status.reason}", reconnect, NEEDS_REAUTHORIZATION
        )
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


async def _check_store(ctx: Context) -> Outcome:
    store = ctx.services.host.store
    watch = ctx.services.store_watch
    wipe = watch.wiped if watch is not None else None
    if still_unresolved(wipe, (await ctx.services.tokens.status()).connected_at):
        assert wipe is not None
        return fail(
            describe(wipe),
            "Connect to Salesforce again, re-send what the contacts wrote since, and give "
            "the store persistence (see 'The store lost its data' in docs/troubleshooting.md).",
            STORE_LOST,
        )
    written = await _check_store_writes(ctx)
    if written.status is not Status.OK:
        return written
    read_persistence = getattr(store, "persistence", None)  # Redis only
    if read_persistence is None:
        return written
    kept = await read_persistence()
    if kept.keeps_data is None:
        return warn(
            f"{written.detail}; cannot check that Redis keeps its data across a restart "
            f"(CONFIG GET refused: {kept.error})",
            "Make sure the Redis server has persistence (appendonly yes, or save rules): "
            "without it a restart loses the queue and the Salesforce connection.",
            STORE_LOST,
        )
    if not kept.keeps_data:
        return fail(
            f'{written.detail}, but Redis has no persistence (appendonly no, save ""): a '
            "restart loses everything the plugin keeps",
            "Turn persistence on: CONFIG SET appendonly yes (and in redis.conf), or save "
            "rules; see 'The store lost its data' in docs/troubleshooting.md.",
            STORE_LOST,
        )
    how = "append-only file" if kept.appendonly else f"snapshots (save {kept.save})"
    return ok(f"{written.detail}; Redis persists with {how}")


async def _check_store_writes(ctx: Context) -> Outcome:
    store = ctx.services.host.store
    # Only the PostgreSQL store has a health check (store/_pg_health.py); it is
    # not imported here, since asyncpg is an optional extra.
    check_writable = getattr(store, "check_writable", None)
    if check_writable is not None:
        health = await check_writable()
        where = f"PostgreSQL schema {health.schema!r}, schema version {health.schema_version}"
        if not health.writable:
            return fail(
                f"{where}: the database refused a write ({health.error or 'no reason given'})",
                "Give the store's database user INSERT, UPDATE and DELETE on the schema's "
                "tables, and check the server is not read-only (a replica, or "
                "default_transaction_read_only).",
            )
        return ok(f"{where}, answers writes")
    probe = await probe_write(store, _PROBE_NAMESPACE)
    if probe.error is not None:
        return fail(
            f"{type(store).__name__} refused a write ({type(probe.error).__name__})",
            "Check the store_url server answers and accepts writes (disk space, permissions).",
        )
    if probe.lost:
        return fail(
            f"{type(store).__name__} lost a write it had just taken",
            "Check the store server keeps what it is given (memory limits, eviction policy).",
        )
    return ok(f"{type(store).__name__}: a write and its read-back")


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
    Check(
        "email_message",
        "EmailMessage in the org (Email-to-Case or Enhanced Email)",
        REPLIES_LOST,
        ("api",),
        check_email_message,
    ),
    Check("apex", "Apex class and triggers active", REPLIES_LOST, ("api",), check_apex),
    Check(
        "named_credential",
        f"Named Credential {names.NAMED_CREDENTIAL} points at this install",
        REPLIES_LOST,
        ("api",),
        check_named_credential,
    ),
    Check(
        "ping",
        "The org reaches the webhook (test ping)",
        REPLIES_LOST,
        ("apex", "named_credential"),
        check_ping,
    ),
    Check(
        "digest",
        "The package's digest arrives every minute",
        REPLIES_LOST,
        ("ping",),
        check_digest,
    ),
    Check("outbox", "Outbox and dead letters", HANDOFF_WITHOUT_CASE, (), _check_outbox),
    Check("store", "The store answers writes", STORE_REFUSES_WRITES, (), _check_store),
    Check("live", "Messaging deployment for live chats", HANDOFF_WITHOUT_CASE, (), check_live),
    Check(
        "live_field",
        f"The session-id field on {names.MESSAGING_SESSION}",
        HANDOFF_WITHOUT_CASE,
        ("api",),
        check_live_field,
    ),
)


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
