"""What the settings page tells the admin, one message per situation.

Each message names the troubleshooting symptom it belongs to, so the admin (and
the README's troubleshooting section) can match what they see:

* "Credentials won't save": wrong Client ID, wrong secret, Salesforce unreachable;
* "Callback mismatch": the Connected App's Callback URL is not the Redirect URI;
* "Connect fails": the sign-in came back with an error, or its link was stale;
* "Popup blocked": the browser refused the sign-in window (the page falls back
  to going to Salesforce in the same window; see ``static/admin.js``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opencx_salesforce.salesforce.errors import AuthorizationError
from opencx_salesforce.salesforce.oauth import CredentialCheck, CredentialCheckOutcome

PRODUCTION_LOGIN = "https://login.salesforce.com"
SANDBOX_LOGIN = "https://test.salesforce.com"

CREDENTIALS_WONT_SAVE = "Credentials won't save"
CALLBACK_MISMATCH = "Callback mismatch"
CONNECT_FAILS = "Connect fails"
POPUP_BLOCKED = "Popup blocked"

# Salesforce's error_description is shown for reference; it arrives in a URL anyone
# can craft, so it is cut short (and escaped, like everything on the page).
_DESCRIPTION_LIMIT = 200
# An OAuth error code as Salesforce writes them (invalid_client_id); anything else
# the login URL answered is not repeated on the page.
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def error_code(value: str | None) -> str | None:
    """``value`` when it looks like an OAuth error code, else None: the answer of a
    login URL that is not Salesforce is never echoed."""
    return value if value is not None and _ERROR_CODE.fullmatch(value) else None


@dataclass(frozen=True)
class Message:
    """One message: ``symptom`` is its troubleshooting heading, ``text`` what
    happened and what to do, ``detail`` Salesforce's own words when there are any."""

    symptom: str
    title: str
    text: str
    kind: str = "error"  # "error", "ok" or "info"
    detail: str | None = None


def other_login_urls(login_url: str) -> list[str]:
    """The login URLs to suggest when Salesforce does not know a Client ID here."""
    if login_url == PRODUCTION_LOGIN:
        return [SANDBOX_LOGIN]
    if login_url == SANDBOX_LOGIN:
        return [PRODUCTION_LOGIN]
    return [PRODUCTION_LOGIN, SANDBOX_LOGIN]


def credential_check_message(check: CredentialCheck, login_url: str, redirect_uri: str) -> Message:
    """What to fix after Save Credentials, for each answer of the check."""
    outcome = check.outcome
    if outcome is CredentialCheckOutcome.OK:
        return Message("", "Credentials saved", check.message + " Now click Connect.", "ok")
    if outcome is CredentialCheckOutcome.WRONG_CLIENT_ID:
        others = " or ".join(other_login_urls(login_url))
        return Message(
            CREDENTIALS_WONT_SAVE,
            "Salesforce does not recognise this Client ID",
            f"{login_url} answered that it does not know this Client ID. Salesforce gives the "
            "same answer for three different causes, so check each: "
            "(1) the Client ID (Consumer Key) was copied incompletely: copy it again from the "
            "Connected App (Setup > App Manager > View > Manage Consumer Details); "
            "(2) the Connected App is new or was just changed: Salesforce needs 2 to 10 minutes "
            "before it accepts it, so wait and save again; "
            "(3) the app lives in a sandbox while the login URL is for production, or the "
            f"reverse: try the login URL {others}.",
            detail=error_code(check.error),
        )
    if outcome is CredentialCheckOutcome.WRONG_SECRET:
        return Message(
            CREDENTIALS_WONT_SAVE,
            "The Client Secret is wrong",
            "Salesforce knows the Client ID but refused the Client Secret (Consumer Secret). "
            "Copy it again from the Connected App's Manage Consumer Details, without spaces; "
            "if the secret was rotated, use the new one.",
            detail=error_code(check.error),
        )
    if outcome is CredentialCheckOutcome.CALLBACK_MISMATCH:
        return Message(
            CALLBACK_MISMATCH,
            "The Redirect URI is not registered on the Connected App",
            "Salesforce knows the Client ID, but the app's Callback URL is not this plugin's "
            f"Redirect URI. In the Connected App, set Callback URL to exactly {redirect_uri} "
            "(same scheme, host, port and path), save it, wait a few minutes for Salesforce "
            "to apply the change, then save here again.",
            detail=error_code(check.error),
        )
    if outcome is CredentialCheckOutcome.UNREACHABLE:
        return Message(
            CREDENTIALS_WONT_SAVE,
            "Salesforce could not be reached",
            f"This server got no answer from {login_url}. Check the Login URL (a My Domain "
            "login URL looks like https://acme.my.salesforce.com) and that this server may "
            "open outgoing HTTPS connections to it.",
            detail=check.message,
        )
    # What the login URL said is not repeated (it may not be Salesforce at all):
    # a fixed sentence, and its error code when it gave one in Salesforce's shape.
    return Message(
        CREDENTIALS_WONT_SAVE,
        "Unexpected answer from the login URL",
        f"{login_url} did not answer like a Salesforce token endpoint. Check that the Login "
        f"URL is a Salesforce login URL ({PRODUCTION_LOGIN}, {SANDBOX_LOGIN} or the org's "
        "My Domain URL).",
        detail=error_code(check.error),
    )


def callback_message(error: AuthorizationError, redirect_uri: str | None = None) -> Message:
    """What to fix when the sign-in came back with an error."""
    description = (error.description or "")[:_DESCRIPTION_LIMIT]
    if error.error == "redirect_uri_mismatch":
        symptom, title = CALLBACK_MISMATCH, "The Redirect URI is not registered on the app"
    elif error.error == "invalid_state":
        symptom, title = CONNECT_FAILS, "This sign-in link expired or was already used"
    elif error.error == "access_denied":
        symptom, title = CONNECT_FAILS, "Access was not allowed"
    else:
        symptom, title = CONNECT_FAILS, "Salesforce refused the sign-in"
    text = error.hint or "Check the Connected App's OAuth settings, then click Connect again."
    if error.error == "redirect_uri_mismatch" and redirect_uri:
        text += f" This plugin's is {redirect_uri}"
    detail = f"{error.error}: {description}" if description else error.error
    return Message(symptom, title, text, detail=detail)


def unreachable_message(reason: str) -> Message:
    return Message(
        CONNECT_FAILS,
        "Salesforce could not be reached",
        f"{reason}. Check this server's outgoing network access, then click Connect again.",
    )


def bad_login_url_message(problem: str) -> Message:
    return Message(CREDENTIALS_WONT_SAVE, "The Login URL is not valid", problem)


def missing_fields_message(missing: list[str]) -> Message:
    return Message(
        CREDENTIALS_WONT_SAVE,
        "Some fields are empty",
        f"Fill in {' and '.join(missing)}, then save again.",
    )


STORE_REFUSES_WRITES = "The store refuses writes"


def store_refuses_writes_message(reason: str) -> Message:
    return Message(
        STORE_REFUSES_WRITES,
        "The store does not take writes",
        "Nothing can be saved until it does: the host's API answers 503 with Retry-After "
        "to handoffs and messages, so their senders send them again; rep replies wait in "
        "Salesforce and come with the next sweep or digest once it does; this page's forms "
        "fail. Free the disk, point the store at a writable primary, or fix Redis's "
        "persistence. Readiness fails meanwhile.",
        detail=reason,
    )


CSRF_FAILED = Message(
    "",
    "The form expired",
    "This form is too old or came from another site. Reload the settings page and try again.",
)

SECRETS_UNREADABLE = Message(
    "Encryption key changed",
    "The stored Salesforce secrets cannot be read with the configured encryption key",
    "The Client Secret and the tokens saved earlier were encrypted with another "
    "encryption_key. Either put the old key back (the new key first, then the old one, "
    "comma separated, rotates them), or start again here: save the credentials again, "
    "then reconnect. Disconnect deletes what cannot be read; it cannot revoke the old "
    "token at Salesforce without it, so revoke the app's access there (Setup > Connected "
    "Apps OAuth Usage).",
)

POPUP_BLOCKED_NOTE = Message(
    POPUP_BLOCKED,
    "The sign-in window was blocked",
    "Your browser blocked the Salesforce sign-in window, so this page went to Salesforce "
    "itself and came back. To sign in without leaving the page next time, allow popups "
    "for this site.",
    "info",
)

NOTICES: dict[str, Message] = {
    "saved": Message(
        "", "Credentials saved", "Client ID and Client Secret are right. Now click Connect.", "ok"
    ),
    "connected": Message("", "Connected", "The plugin is connected to Salesforce.", "ok"),
    "disconnected": Message(
        "",
        "Disconnected",
        "The plugin's tokens are revoked and deleted, and the Client ID and Secret saved on "
        "this page are forgotten. Delete the package's components in Salesforce (listed below) "
        "to finish.",
        "ok",
    ),
    "disconnected_unrevoked": Message(
        "",
        "Disconnected, but not revoked at Salesforce",
        "The plugin's tokens are deleted here, but Salesforce did not confirm the revocation "
        "(it could not be reached, or refused). To be sure, revoke the app's access in "
        "Salesforce: Setup > Connected Apps OAuth Usage. Then delete the package's components "
        "(listed below).",
        "ok",
    ),
    "disconnected_unreadable": Message(
        "",
        "Disconnected, but not revoked at Salesforce",
        "The stored tokens could not be read with the configured encryption key, so they are "
        "deleted here without being revoked: revoking needs the token itself. Revoke the app's "
        "access in Salesforce: Setup > Connected Apps OAuth Usage. Then delete the package's "
        "components (listed below).",
        "ok",
    ),
    "retried": Message("", "Queued again", "The dead letters are queued again.", "ok"),
    "nothing_to_retry": Message("", "Nothing to retry", "There were no dead letters.", "ok"),
}
