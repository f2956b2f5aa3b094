"""The doctor's checks of the package the admin deployed: what the org offers it
(EmailMessage), the Apex class and triggers, the Named Credential, and the test
ping from inside the org."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opencx_salesforce.apex import names
from opencx_salesforce.apex.org_features import org_has_email_message
from opencx_salesforce.doctor.probe import (
    masked_webhook_url,
    normalise_url,
    probe_route_in_process,
    probe_webhook,
)
from opencx_salesforce.doctor.report import (
    Context,
    Outcome,
    fail,
    ok,
    warn,
)
from opencx_salesforce.salesforce import soql
from opencx_salesforce.salesforce.errors import Forbidden

# What the org runs to prove the whole path: the class's own ping.
PING_APEX = f"{names.CALLOUT_CLASS}.ping();"


_DEPLOY_FIX = (
    "Generate this install's package (`opencx-salesforce apex --config FILE --out DIR`) and "
    "deploy it (`sf project deploy start --source-dir force-app` in DIR); its README has "
    "the production variant with tests."
)


async def check_email_message(ctx: Context) -> Outcome:
    """EmailMessage exists only with Email-to-Case or Enhanced Email, and Apex that
    names a missing object does not compile (apex/org_features.py)."""
    answer = await ctx.client.request("GET", "sobjects")
    ctx.has_email_message = org_has_email_message(answer.data)
    if ctx.has_email_message:
        return ok(
            "EmailMessage is available (Email-to-Case or Enhanced Email): emails the reps "
            "send from a Case reach the contact"
        )
    return warn(
        "this org has no EmailMessage object (neither Email-to-Case nor Enhanced Email is "
        "on, or the connected user cannot see it): the full package's EmailMessage trigger "
        "does not compile here, and only Case comments can be replies",
        "Generate the package without its EmailMessage parts: `opencx-salesforce apex "
        "--config FILE --out DIR --no-email`, and deploy that. If the reps answer by email, "
        "turn on Email-to-Case or Enhanced Email in Setup first and keep the full package.",
    )


async def check_apex(ctx: Context) -> Outcome:
    classes = await ctx.client.tooling_query(
        "SELECT Id, Name, Status, IsValid FROM ApexClass "
        f"WHERE Name = {soql.literal(names.CALLOUT_CLASS)}"
    )
    # A package made with --no-email has no EmailMessage trigger; one is expected
    # only where the org has the object (or the doctor could not tell).
    expected = names.triggers(include_email=ctx.has_email_message is not False)
    trigger_names = ", ".join(soql.literal(n) for n in expected)
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
    for trigger, (sobject, _events) in expected.items():
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
    return ok(f"deployed and Active: class {names.CALLOUT_CLASS}, triggers {', '.join(expected)}")


async def check_named_credential(ctx: Context) -> Outcome:
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


# The current Named Credential model: "External credential principals map to
# permission sets to authorize users to make callouts" [src: help
# xcloud.nc_parts_of_nc.htm]; the ping runs as the connected user. (The legacy
# model, ``apex --legacy-named-credential``, needs no permission set.)
_PRINCIPAL_FIX = (
    f"With the package's External Credential {names.EXTERNAL_CREDENTIAL}, the user the "
    f"ping runs as (the one the plugin connects as) and every rep need the permission set "
    f"{names.CALLOUT_PERMISSION_SET} (`sf org assign permset --name "
    f"{names.CALLOUT_PERMISSION_SET} --on-behalf-of USER`), else the callout is refused."
)


async def check_ping(ctx: Context) -> Outcome:
    try:
        result = await ctx.client.execute_anonymous(PING_APEX)
    except Forbidden as exc:
        return fail(f"Salesforce refused to run the ping: {exc.message}", _PING_PERMISSIONS_FIX)
    if not result.get("compiled"):
        return fail(
            f"the org could not compile `{PING_APEX}`: {result.get('compileProblem')}",
            _DEPLOY_FIX,
        )
    if result.get("success") and ctx.services.signing_secret is None:
        return warn(
            "the org called this install's webhook and got a 2xx answer, but unsigned: the "
            "plugin runs with webhook_signing = false, so anyone who learns the webhook URL "
            "can call it, and a captured call can be sent again",
            "Remove webhook_signing = false from the plugin's settings, generate the package "
            "again (settings page or `opencx-salesforce apex`) and deploy it.",
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
                "The deployed package carries another signing secret than this install's "
                "(or none: a package from before signing was on): generate the package again "
                "(`opencx-salesforce apex --config FILE --out DIR`) and deploy it.",
            )
        return fail(
            f"the org's ping failed ({message}), though the webhook answers from this machine",
            f"Salesforce must reach {public} from the internet: an https URL with a "
            "certificate from a public CA, a public DNS name, and no firewall or VPN in the "
            "way. " + _PRINCIPAL_FIX + " Fix that, then run the doctor again.",
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
    "another store (host.store_url) or another webhook signing secret than "
    "this config. Run the doctor with the host's own config.",
    404: "Nothing is mounted at /integrations/salesforce there: public_url points at "
    "another server, or the host runs without the salesforce plugin (host.plugins).",
    503: "The host runs, but the Salesforce plugin did not start: see the host's log.",
}


def _by_name(answer: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    return {str(r.get(key)): r for r in answer.get("records", []) if isinstance(r, Mapping)}
