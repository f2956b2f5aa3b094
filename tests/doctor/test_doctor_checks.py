"""The doctor's checks against emulated orgs over real HTTP: a complete org is all
green, and each way an org gets broken reports exactly that failure and its fix."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from doctor_support import (
    CHECK_IDS,
    SALESFORCE_CHECKS,
    SECRET,
    StackFactory,
    connect_with_browser,
    only_failure,
    org_api_calls,
    result,
    skipped,
    statuses,
)

from opencx_salesforce.apex import names
from opencx_salesforce.commands.doctor import print_report
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.doctor import (
    CHECKS,
    HANDOFF_WITHOUT_CASE,
    NEEDS_REAUTHORIZATION,
    REPLIES_LOST,
    Status,
    diagnose,
    normalise_url,
    run_checks,
)
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.emulator.seed import DEFAULT_CUSTOM_FIELDS, CustomFieldSeed, default_org
from opencx_salesforce.models import Contact, HandoffReason
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import RequestLimitExceeded, TransportError
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.web.admin.messages import CREDENTIALS_WONT_SAVE

SESSION_FIELD = names.DEFAULT_SESSION_ID_FIELD
ROOT = Path(__file__).resolve().parents[2]
CHECK_TITLES = [check.title for check in CHECKS]


async def test_a_complete_org_is_all_green_and_the_ping_reaches_the_host(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    pings_before = stack.runtime.reply_status.pings
    calls_before = org_api_calls(stack)

    report = await diagnose(stack.runtime)

    assert [(r.id, r.status) for r in report.results] == [(i, Status.OK) for i in CHECK_IDS]
    assert all(r.fix is None and r.symptom is None for r in report.results)
    assert report.ok and report.exit_code == 0
    # The org's ping went through the Named Credential to the running host's route.
    assert stack.runtime.reply_status.pings == pings_before + 1
    # Counted calls are the org's own count: limits, describe, describe global, 2 + 1 Tooling
    # queries, executeAnonymous.
    assert report.api_calls == org_api_calls(stack) - calls_before == 7
    # The webhook token is a secret: the report shows it masked.
    assert stack.runtime.webhook_token not in str(report.to_json())


async def test_run_checks_gives_the_same_checklist(make_stack: StackFactory) -> None:
    stack = await make_stack()
    results = await run_checks(stack.runtime)
    assert [(r.id, r.status) for r in results] == [(i, Status.OK) for i in CHECK_IDS]


async def test_session_id_field_missing(make_stack: StackFactory) -> None:
    fields = tuple(f for f in DEFAULT_CUSTOM_FIELDS if f.name != SESSION_FIELD)
    stack = await make_stack(seed=dataclasses.replace(default_org(), custom_fields=fields))

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "case_fields"
    assert f"{SESSION_FIELD} is missing" in failed.detail
    assert names.CASE_FROM_FIELD not in failed.detail.replace(f"{names.CASE_FROM_FIELD} (", "")
    assert failed.symptom == HANDOFF_WITHOUT_CASE
    assert failed.fix is not None
    assert "opencx-salesforce apex" in failed.fix and names.PERMISSION_SET in failed.fix
    assert not skipped(report)


async def test_session_id_field_without_external_id_and_unique(make_stack: StackFactory) -> None:
    plain = CustomFieldSeed("Case", SESSION_FIELD, "string", 255)
    fields = tuple(plain if f.name == SESSION_FIELD else f for f in DEFAULT_CUSTOM_FIELDS)
    stack = await make_stack(seed=dataclasses.replace(default_org(), custom_fields=fields))

    failed = only_failure(await diagnose(stack.runtime))

    assert failed.id == "case_fields"
    assert f"{SESSION_FIELD} is not an External ID" in failed.detail
    assert f"{SESSION_FIELD} is not Unique" in failed.detail
    assert failed.fix is not None and "Unique and External ID" in failed.fix


async def test_a_trigger_inactive(make_stack: StackFactory) -> None:
    stack = await make_stack()
    trigger = names.CASE_COMMENT_TRIGGER
    deployed = next(r for r in stack.org.records["ApexTrigger"].values() if r["Name"] == trigger)
    # Redeployed with status Inactive, as a sandbox admin's "Is Active" untick does.
    stack.org.metadata.set_apex_trigger(
        trigger, deployed["TableEnumOrId"], deployed["Body"], status="Inactive"
    )

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "apex"
    assert f"trigger {trigger} is Inactive" in failed.detail
    assert names.EMAIL_MESSAGE_TRIGGER not in failed.detail
    assert failed.symptom == REPLIES_LOST
    assert failed.fix is not None and "Activate the trigger" in failed.fix
    assert skipped(report) == {"ping", "digest"}


async def test_the_apex_class_missing(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.org.metadata.remove_metadata("ApexClass", names.CALLOUT_CLASS)

    failed = only_failure(await diagnose(stack.runtime))

    assert failed.id == "apex"
    assert f"class {names.CALLOUT_CLASS} is not deployed" in failed.detail
    assert failed.fix is not None and "sf project deploy start" in failed.fix


async def test_named_credential_pointing_elsewhere(make_stack: StackFactory) -> None:
    stack = await make_stack()
    old_token = "oldtoken-0123456789abcdefghijklmnop"
    stack.org.metadata.set_named_credential(
        names.NAMED_CREDENTIAL,
        f"https://old-bot.example.com/integrations/salesforce/webhook/{old_token}",
    )

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "named_credential"
    assert "https://old-bot.example.com/integrations/salesforce/webhook/oldt" in failed.detail
    assert stack.host_url in failed.detail
    # Neither webhook token is shown whole.
    assert old_token not in failed.detail
    assert stack.runtime.webhook_token not in str(report.to_json())
    assert failed.symptom == REPLIES_LOST
    assert failed.fix is not None and "opencx-salesforce apex" in failed.fix
    assert skipped(report) == {"ping", "digest"}


async def test_named_credential_written_differently_is_the_same_url(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    scheme, rest = stack.runtime.webhook_url.split("://", 1)
    host, path = rest.split("/", 1)
    # Scheme and host in capitals: the same address to a server.
    stack.org.metadata.set_named_credential(
        names.NAMED_CREDENTIAL, f"{scheme.upper()}://{host.upper()}/{path}"
    )

    report = await diagnose(stack.runtime)

    assert statuses(report) == {i: Status.OK for i in CHECK_IDS}


async def test_named_credential_with_a_trailing_slash_is_another_url(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    # The webhook route matches its path exactly; the org would call a 404.
    stack.org.metadata.set_named_credential(names.NAMED_CREDENTIAL, stack.runtime.webhook_url + "/")

    failed = only_failure(await diagnose(stack.runtime))

    assert failed.id == "named_credential"


def test_normalise_url() -> None:
    token = "AbC_123"
    assert normalise_url(f"HTTPS://Bot.Example.COM:443/hook/{token}") == (
        f"https://bot.example.com/hook/{token}"
    )
    assert normalise_url("http://127.0.0.1:80/x#frag") == "http://127.0.0.1/x"
    assert normalise_url("https://bot.example.com:8443/x") == "https://bot.example.com:8443/x"
    assert normalise_url("https://bot.example.com/x/") != normalise_url("https://bot.example.com/x")
    # The path (and its token) is case-sensitive.
    assert normalise_url(f"https://a.example/hook/{token}") != normalise_url(
        f"https://a.example/hook/{token.lower()}"
    )


async def test_doctor_ping_refused_for_another_signing_secret(make_stack: StackFactory) -> None:
    stack = await make_stack(deploy=False)
    # The package was generated before the secret changed: the org signs with the old one.
    deploy_package(stack.org, stack.runtime.webhook_url, "whsec_an_older_secret_0123456789")

    report = await diagnose(stack.runtime)

    ping = result(report, "ping")
    assert ping.status is Status.FAIL
    assert "answered 401" in ping.detail
    assert ping.fix is not None and "signing secret" in ping.fix


async def test_doctor_warns_when_webhook_signing_is_off(make_stack: StackFactory) -> None:
    # Issue 16 item 10: the opt-out works, and the doctor says what it costs.
    stack = await make_stack(deploy=False, webhook_signing=False, webhook_signing_secret=None)
    deploy_package(stack.org, stack.runtime.webhook_url, None)

    report = await diagnose(stack.runtime)

    ping = result(report, "ping")
    assert ping.status is Status.WARN
    assert "unsigned" in ping.detail
    assert ping.fix is not None and "webhook_signing = false" in ping.fix


async def test_token_revoked(make_stack: StackFactory) -> None:
    stack = await make_stack(connect=False)
    await connect_with_browser(stack)
    # An admin revokes the app's access in Salesforce (or the refresh token expires).
    stack.emulator.state.auth.revoke_all(stack.org.id)

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "api"
    assert "invalid_grant" in failed.detail
    assert failed.fix is not None and "Click Connect" in failed.fix
    assert failed.symptom == HANDOFF_WITHOUT_CASE
    assert skipped(report) == set(SALESFORCE_CHECKS) - {"api"}
    assert result(report, "connection").status is Status.OK
    assert result(report, "outbox").status is Status.OK

    # The refusal is remembered: the next run names it at "connected", with the reason.
    again = await diagnose(stack.runtime)
    failed = only_failure(again)
    assert failed.id == "connection"
    assert "needs to be connected again" in failed.detail and "invalid_grant" in failed.detail
    assert failed.symptom == NEEDS_REAUTHORIZATION  # its troubleshooting heading
    assert skipped(again) == set(SALESFORCE_CHECKS)
    assert again.api_calls == 0


async def test_api_limit_nearly_spent_fails(make_stack: StackFactory) -> None:
    seed = dataclasses.replace(default_org(), daily_api_limit=1000)
    stack = await make_stack(seed=seed)
    # Other integrations spent the day's calls: 960 of 1,000 before the doctor.
    stack.org.api_calls.record("sobjects", 960 - stack.org.api_calls.total)

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "api_usage"
    assert "961 of 1,000 daily API calls used (96%)" in failed.detail
    assert failed.symptom == HANDOFF_WITHOUT_CASE
    assert failed.fix is not None and "daily limit" in failed.fix


async def test_api_limit_high_warns(make_stack: StackFactory) -> None:
    seed = dataclasses.replace(default_org(), daily_api_limit=1000)
    stack = await make_stack(seed=seed)
    stack.org.api_calls.record("sobjects", 850 - stack.org.api_calls.total)

    report = await diagnose(stack.runtime)

    warned = result(report, "api_usage")
    assert warned.status is Status.WARN
    assert "851 of 1,000" in warned.detail and warned.fix is not None
    assert [r.id for r in report.results if r.status is not Status.OK] == ["api_usage"]
    assert report.ok and report.exit_code == 0


async def test_api_limit_spent_stops_the_salesforce_checks(make_stack: StackFactory) -> None:
    seed = dataclasses.replace(default_org(), daily_api_limit=1000)
    stack = await make_stack(seed=seed)
    stack.org.api_calls.record("sobjects", 1000 - stack.org.api_calls.total)

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "api"
    assert "daily API limit is spent" in failed.detail
    assert failed.symptom == HANDOFF_WITHOUT_CASE
    assert failed.fix is not None and "last 24 hours" in failed.fix
    assert skipped(report) == set(SALESFORCE_CHECKS) - {"api"}


async def test_a_dead_letter_in_the_outbox(make_stack: StackFactory) -> None:
    stack = await make_stack(
        dead_letter_after_seconds=0.3, backoff_base_seconds=0.05, backoff_cap_seconds=0.1
    )
    # Salesforce is down while a conversation is handed off; the outbox gives up.
    faults = stack.org.faults
    faults.begin_outage(stack.emulator.state.clock.now())
    session = await stack.host.create_session(
        contact=Contact(name="Jane Doe", email="jane@example.com"), topic="Parcel lost"
    )
    await stack.host.handoff(session.id, HandoffReason(code="requested"))

    async def buried() -> bool:
        items = await stack.runtime.outbox.items(ItemState.DEAD)
        return bool(items)

    await wait_for(buried, what="the handoff to be buried")
    faults.end_outage()

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "outbox"
    assert f"1 dead letter(s) (nothing pending): handoff handoff:{session.id}" in failed.detail
    assert "503" in failed.detail or "Unavailable" in failed.detail
    assert failed.symptom == HANDOFF_WITHOUT_CASE
    assert failed.fix is not None and "Retry all dead letters" in failed.fix


async def test_nothing_saved_yet(make_stack: StackFactory) -> None:
    stack = await make_stack(connect=False, deploy=False)

    report = await diagnose(stack.runtime)

    failed = only_failure(report)
    assert failed.id == "credentials"
    assert failed.symptom == CREDENTIALS_WONT_SAVE
    assert (
        failed.fix is not None and f"{stack.host_url}/integrations/salesforce/admin" in failed.fix
    )
    assert skipped(report) == {"connection", *SALESFORCE_CHECKS}
    assert report.api_calls == 0


async def test_an_org_without_email_message_is_told_to_use_the_no_email_package(
    make_stack: StackFactory,
) -> None:
    # Neither Email-to-Case nor Enhanced Email: no EmailMessage object, and the
    # package made with --no-email (no EmailMessage trigger) is what fits.
    seed = dataclasses.replace(default_org(), email_messages=False)
    stack = await make_stack(seed=seed, deploy=False)
    deploy_package(stack.org, stack.runtime.webhook_url, SECRET, include_email=False)

    report = await diagnose(stack.runtime)

    email = result(report, "email_message")
    assert email.status is Status.WARN
    assert "no EmailMessage object" in email.detail
    assert email.fix is not None and "--no-email" in email.fix
    # The package without its EmailMessage trigger is complete for this org.
    assert result(report, "apex").status is Status.OK
    assert names.EMAIL_MESSAGE_TRIGGER not in result(report, "apex").detail
    assert not [r for r in report.results if r.status is Status.FAIL]


async def test_an_org_with_email_message_expects_the_email_trigger(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(deploy=False)
    deploy_package(stack.org, stack.runtime.webhook_url, SECRET, include_email=False)

    report = await diagnose(stack.runtime)

    assert result(report, "email_message").status is Status.OK
    failed = only_failure(report)
    assert failed.id == "apex"
    assert f"trigger {names.EMAIL_MESSAGE_TRIGGER} is not deployed" in failed.detail


async def test_a_digest_not_started_warns_with_the_start_script(make_stack: StackFactory) -> None:
    stack = await make_stack(digest=False)
    calls_before = org_api_calls(stack)

    report = await diagnose(stack.runtime)

    warned = [r for r in report.results if r.status is Status.WARN]
    assert [r.id for r in warned] == ["digest"]
    assert "no digest has reached this install yet" in warned[0].detail
    assert "if you started it just now, run the check again in a minute" in warned[0].detail
    assert warned[0].fix is not None and "scripts/apex/start-digest.apex" in warned[0].fix
    assert warned[0].symptom == REPLIES_LOST
    assert report.exit_code == 0, "a warning: replies still arrive, later"
    assert org_api_calls(stack) - calls_before == 7, "the digest check costs no call"


# A check's line as the doctor prints it without Unicode: its mark, its title, its detail.
CHECK_LINE = re.compile(r"^\[(?P<mark>ok|warn|FAIL|skip)\]\s+(?P<title>[^:]+): ", re.MULTILINE)
SUMMARY_LINE = re.compile(r"^\d+ ok, .*Salesforce API call\(s\) spent$", re.MULTILINE)


async def test_admin_setup_shows_a_healthy_install_as_the_doctor_prints_it(
    make_stack: StackFactory,
) -> None:
    """docs/admin-setup.md's sample of a healthy install lists every check the
    doctor runs, in its order, and the summary it ends with (it had missed four
    checks added later)."""
    stack = await make_stack()
    out = io.StringIO()
    print_report(out, await diagnose(stack.runtime), unicode=False)
    printed = out.getvalue()

    doc = (ROOT / "docs" / "admin-setup.md").read_text(encoding="utf-8")
    sample = doc.split("A healthy install prints", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    lines = [(m["mark"], m["title"]) for m in CHECK_LINE.finditer(printed)]
    assert lines == [("ok", title) for title in CHECK_TITLES], printed
    assert [(m["mark"], m["title"]) for m in CHECK_LINE.finditer(sample)] == lines, printed
    summary = SUMMARY_LINE.search(printed)
    assert summary is not None, printed
    assert SUMMARY_LINE.findall(sample) == [summary[0]]


async def test_too_many_long_requests_at_once_is_not_called_the_daily_limit(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn Limit exceeded.": doctor
    # said the daily limit was spent, quoting words that said otherwise.
    stack = await make_stack()

    async def busy(*args: object, **kwargs: object) -> dict[str, object]:
        raise RequestLimitExceeded(
            "ConcurrentPerOrgLongTxn Limit exceeded.",
            status=403,
            error_code="REQUEST_LIMIT_EXCEEDED",
        )

    monkeypatch.setattr(SalesforceClient, "limits", busy)  # the doctor's own client
    report = await diagnose(stack.runtime)
    failed = only_failure(report)
    assert failed.id == "api"
    assert "too many long-running requests run at once" in failed.detail
    assert "daily" not in failed.detail and failed.fix is not None
    assert "last 24 hours" not in failed.fix


async def test_salesforce_out_of_reach_is_said_once(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "could not reach Salesforce: could not reach Salesforce (...)".
    stack = await make_stack()

    async def away(*args: object, **kwargs: object) -> dict[str, object]:
        raise TransportError("could not reach Salesforce (ClientConnectorError: refused)")

    monkeypatch.setattr(SalesforceClient, "limits", away)
    failed = only_failure(await diagnose(stack.runtime))
    assert failed.detail == "could not reach Salesforce (ClientConnectorError: refused)"
