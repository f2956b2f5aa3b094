"""``doctor``'s look at the Messaging deployment of the live path: a token
request proves the SCRT URL, the org id and the deployment API name, and the
answer says whether the deployment is a Custom Client (``deploymentType:
"api"``) [MIAW.md §2, API reference]. One access-token request (the org may make
200 a minute [MIAW.md §6]); no conversation is created."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opencx_salesforce.apex import names
from opencx_salesforce.doctor.report import HANDOFF_WITHOUT_CASE, Context, Outcome, fail, ok, warn
from opencx_salesforce.live.errors import BadRequest, LiveError, Unauthorized
from opencx_salesforce.salesforce.errors import SalesforceError

CUSTOM_CLIENT = "api"
_WHERE = (
    "Check [salesforce.live] scrt_url (the Custom Client deployment's code snippet), "
    "org_id (Setup → Company Information) and deployment (the deployment's API Name); "
    "see docs/admin-setup.md, 'Live Messaging'."
)


async def check_live(ctx: Context) -> Outcome:
    live = ctx.services.live
    if live is None:
        return ok("not configured: every handoff becomes a Case")
    settings = live.settings
    try:
        token = await live.tokens.prove()
    except BadRequest as error:
        return fail(
            f"the deployment refused a token request: {error}", _WHERE, HANDOFF_WITHOUT_CASE
        )
    except Unauthorized as error:
        return fail(
            f"no token for a contact: {error}",
            "With user verification on for the channel, set identity_private_key and "
            "identity_issuer and register the plugin's JWKS URL as the keyset's endpoint; "
            "for guests, turn user verification off. " + _WHERE,
            HANDOFF_WITHOUT_CASE,
        )
    except LiveError as error:
        return fail(f"the SCRT URL does not answer: {error}", _WHERE, HANDOFF_WITHOUT_CASE)
    kind = "verified user" if token.verified else "guest"
    where = f"{settings.deployment} at {settings.scrt_url} ({kind} token)"
    if token.deployment_type and token.deployment_type != CUSTOM_CLIENT:
        return fail(
            f"{where}: the deployment's type is {token.deployment_type!r}, not Custom Client",
            "Create an Embedded Service deployment of type Custom Client (Messaging for "
            "In-App and Web) and set its API Name as [salesforce.live] deployment.",
            HANDOFF_WITHOUT_CASE,
        )
    if not token.deployment_type:
        return warn(
            f"{where}: the answer did not say the deployment type",
            "Check in Setup that the deployment is of type Custom Client.",
        )
    channels = ", ".join(settings.channels) or "none (set channels)"
    return ok(f"{where}; live channels: {channels}")


async def check_live_field(ctx: Context) -> Outcome:
    """The package's MessagingSession field for the OpenCX session id (generated
    when live Messaging is configured): there, Text, External ID. Its absence
    costs no chat, so a warning: the rep and reports just cannot find a live
    chat's conversation by it."""
    if ctx.services.live is None:
        return ok("not configured: no MessagingSession field needed")
    field = ctx.services.settings.session_id_field
    where = f"{names.MESSAGING_SESSION}.{field}"
    try:
        describe = await ctx.client.describe(names.MESSAGING_SESSION)
    except SalesforceError as error:
        return warn(
            f"no {names.MESSAGING_SESSION} object to describe ({error})",
            "Turn on Messaging in the org (Setup → Messaging Settings), then deploy the package.",
        )
    fields: dict[str, Mapping[str, Any]] = {
        str(f.get("name")): f for f in describe.get("fields", []) if isinstance(f, Mapping)
    }
    item = fields.get(field)
    fix = (
        "Deploy the package generated with [salesforce.live] configured "
        "(`opencx-salesforce apex --config FILE --out DIR`), and in the Omni-Channel flow "
        f"set {where} from the {names.MESSAGING_SESSION_ID_PARAMETER} parameter "
        "(docs/admin-setup.md, 'Live Messaging')."
    )
    if item is None:
        return warn(f"{where} is missing (or hidden from the connected user)", fix)
    if item.get("type") != "string" or not item.get("externalId"):
        return warn(f"{where} is not a Text External ID field", fix)
    return ok(f"{where} (Text, External ID)")
