"""The guides quote the product as it is: the messages the settings page shows
appear under the troubleshooting heading they name, the labels an admin clicks
are the page's own, and the doctor's checks are the ones the setup guide
explains.

The messages are produced by calling the code that makes them, so a reworded
message fails here until the guide says the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opencx_salesforce import doctor
from opencx_salesforce.salesforce.errors import AuthorizationError
from opencx_salesforce.salesforce.oauth import CredentialCheck, CredentialCheckOutcome
from opencx_salesforce.web.admin import messages
from opencx_salesforce.web.admin.views import LOGIN_CHOICES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SETTINGS_PAGE = ROOT / "opencx_salesforce" / "web" / "admin" / "templates" / "settings.html"
LOGIN = "https://login.salesforce.com"
REDIRECT = "https://bot.example.com/integrations/salesforce/oauth/callback"


def section(document: str, heading: str) -> str:
    """The text under the level-2 ``heading`` of a guide, up to the next one."""
    text = (DOCS / document).read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\s*$", text, re.MULTILINE)
    assert match, f"docs/{document} has no heading '## {heading}'"
    following = re.search(r"^## ", text[match.end() :], re.MULTILINE)
    return text[match.end() : match.end() + following.start() if following else len(text)]


def shown_messages() -> list[messages.Message]:
    """Every message the settings page (and `connect`) shows for a problem."""
    found = [
        messages.credential_check_message(CredentialCheck(outcome, "", "x"), LOGIN, REDIRECT)
        for outcome in CredentialCheckOutcome
        if outcome is not CredentialCheckOutcome.OK
    ]
    found += [
        messages.callback_message(AuthorizationError(code, "", hint="h"), REDIRECT)
        for code in ("redirect_uri_mismatch", "invalid_state", "access_denied", "invalid_scope")
    ]
    found += [
        messages.unreachable_message("no answer"),
        messages.bad_login_url_message("x"),
        messages.missing_fields_message(["the Client ID"]),
        messages.POPUP_BLOCKED_NOTE,
        messages.SECRETS_UNREADABLE,
        messages.store_refuses_writes_message("OperationalError: database or disk is full"),
    ]
    return found


@pytest.mark.parametrize("message", shown_messages(), ids=lambda m: m.title)
def test_each_message_is_explained_under_its_symptom(message: messages.Message) -> None:
    assert message.symptom, f"{message.title!r} names no troubleshooting symptom"
    assert message.title in section("troubleshooting.md", message.symptom), (
        f"docs/troubleshooting.md, '## {message.symptom}', does not quote {message.title!r}"
    )


def test_the_form_expired_message_is_explained() -> None:
    assert messages.CSRF_FAILED.title in section("troubleshooting.md", "Credentials won't save")


@pytest.mark.parametrize("symptom", doctor.SYMPTOMS)
def test_every_fix_label_of_doctor_is_a_heading(symptom: str) -> None:
    section("troubleshooting.md", symptom)


@pytest.mark.parametrize("check", doctor.CHECKS, ids=lambda c: c.id)
def test_every_doctor_check_is_explained_in_the_setup_guide(check: doctor.Check) -> None:
    explained = section("admin-setup.md", "6. Check the setup with `doctor`")
    assert f"| {check.title} |" in explained, f"admin-setup.md does not explain {check.title!r}"


@pytest.mark.parametrize("key", ["disconnected", "disconnected_unrevoked"])
def test_the_disconnect_outcomes_are_explained(key: str) -> None:
    text = (DOCS / "disconnect.md").read_text(encoding="utf-8")
    assert f"**{messages.NOTICES[key].title}**" in text


LABELS = [
    "Client ID",
    "Client Secret",
    "Login URL",
    "Redirect URI",
    "Save Credentials",
    "Connect to Salesforce",
    "Reconnect to Salesforce",
    "Webhook URL",
    "Download Salesforce package",
    "Check setup",
    "Retry all dead letters",
    "Disconnect",
    "Production or Developer Edition",
    "Sandbox",
    "My Domain",
]


@pytest.mark.parametrize("label", LABELS)
def test_a_label_the_guides_name_is_on_the_settings_page(label: str) -> None:
    page = SETTINGS_PAGE.read_text(encoding="utf-8") + "".join(
        text
        for _, text, _ in LOGIN_CHOICES  # the Login URL choices come from here
    )
    assert label in page, f"the settings page has no {label!r}"
    guides = "".join(
        (DOCS / name).read_text(encoding="utf-8")
        for name in ("admin-setup.md", "troubleshooting.md", "disconnect.md")
    )
    # Bold or italic, as the guides write what is on screen: "**Client ID (Consumer Key)**".
    assert re.search(rf"\*{{1,2}}{re.escape(label)}[^*\n]*\*", guides), label
