"""``opencx-salesforce doctor`` and ``opencx-salesforce apex`` as an admin runs
them: the host's config file, the host's store shared with a running host, the
output and the exit code.

The commands run their own event loop (``asyncio.run``), so tests that keep a
stack running call them in a thread while the test's loop serves the emulator
and the host.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import stat
from io import StringIO
from pathlib import Path

import pytest
from doctor_support import (
    CHECK_IDS,
    PLUGIN_SETTINGS,
    SECRET,
    StackFactory,
    stack_config,
    write_config,
)

from opencx_salesforce.apex import names
from opencx_salesforce.cli import main
from opencx_salesforce.commands.doctor import print_report
from opencx_salesforce.doctor import REPLIES_LOST, diagnose
from opencx_salesforce.runtime import ensure_signing_secret, ensure_webhook_token
from opencx_salesforce.settings import SalesforceSettings
from opencx_salesforce.store import open_store

NAMED_CREDENTIAL_FILE = Path(
    f"force-app/main/default/namedCredentials/{names.NAMED_CREDENTIAL}.namedCredential-meta.xml"
)
SECRET_RECORD_FILE = Path(
    f"force-app/main/default/customMetadata/{names.SETTINGS_RECORD_FULL_NAME}.md-meta.xml"
)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'opencx.db'}"


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def named_credential_endpoint(package: Path) -> str:
    text = (package / NAMED_CREDENTIAL_FILE).read_text(encoding="utf-8")
    # The current form keeps the URL in a Url parameter; the legacy form in <endpoint>.
    match = re.search(r"<parameterValue>(.*?)</parameterValue>", text) or re.search(
        r"<endpoint>(.*?)</endpoint>", text
    )
    assert match, text
    return html.unescape(match.group(1))


# --- doctor ------------------------------------------------------------------------------


async def test_doctor_json_all_green_beside_the_running_host(
    make_stack: StackFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack(store_url=sqlite_url(tmp_path))
    config = stack_config(tmp_path, stack, sqlite_url(tmp_path))
    pings = stack.runtime.reply_status.pings

    code = await run_cli("doctor", "--config", str(config), "--json")

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(report) == {"ok", "exit_code", "webhook_url", "api_calls", "summary", "checks"}
    assert report["ok"] is True and report["exit_code"] == 0
    assert report["summary"] == {"ok": len(CHECK_IDS), "warn": 0, "fail": 0, "skip": 0}
    assert [c["id"] for c in report["checks"]] == list(CHECK_IDS)
    for check in report["checks"]:
        assert set(check) == {"id", "title", "status", "detail", "fix", "symptom"}
        assert check["status"] == "ok" and check["fix"] is None
    assert report["api_calls"] == 7
    # The org's ping reached the host that is running, through its real route.
    assert stack.runtime.reply_status.pings == pings + 1
    assert report["webhook_url"].startswith(f"{stack.host_url}/integrations/salesforce/webhook/")
    assert stack.runtime.webhook_token not in json.dumps(report)


async def test_doctor_json_exit_code_1_on_a_failure(
    make_stack: StackFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack(store_url=sqlite_url(tmp_path))
    stack.org.metadata.set_named_credential(
        names.NAMED_CREDENTIAL, "https://old-bot.example.com/integrations/salesforce/webhook/x1"
    )
    config = stack_config(tmp_path, stack, sqlite_url(tmp_path))

    code = await run_cli("doctor", "--config", str(config), "--json")

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["ok"] is False and report["exit_code"] == 1
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["named_credential"]["status"] == "fail"
    assert by_id["named_credential"]["symptom"] == REPLIES_LOST
    assert "opencx-salesforce apex" in by_id["named_credential"]["fix"]
    assert by_id["ping"]["status"] == "skip"
    assert report["summary"] == {"ok": 11, "warn": 0, "fail": 1, "skip": 2}


async def test_doctor_checklist_is_plain_ascii_off_a_terminal(
    make_stack: StackFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack(store_url=sqlite_url(tmp_path))
    stack.org.metadata.set_named_credential(
        names.NAMED_CREDENTIAL, "https://old-bot.example.com/integrations/salesforce/webhook/x1"
    )
    config = stack_config(tmp_path, stack, sqlite_url(tmp_path))

    code = await run_cli("doctor", "--config", str(config))

    out = capsys.readouterr().out
    assert code == 1
    assert out.isascii()
    lines = out.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("[FAIL]"))
    assert "Named Credential" in lines[failed]
    # The fix sits under the failure, filed under its symptom.
    assert lines[failed + 1].strip().startswith(f"fix ({REPLIES_LOST}):")
    assert sum(line.startswith("[ok]") for line in lines) == 11  # the live checks: not configured
    assert any(line.startswith("[skip]") and "test ping" in line for line in lines)
    assert "11 ok, 1 failed, 2 skipped; 6 Salesforce API call(s) spent" in out


async def test_doctor_on_a_terminal_marks_with_symbols(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.org.metadata.remove_metadata("NamedCredential", names.NAMED_CREDENTIAL)
    out = StringIO()

    print_report(out, await diagnose(stack.runtime), unicode=True)

    text = out.getvalue()
    assert "✓ Connected to Salesforce" in text
    assert f"✗ Named Credential {names.NAMED_CREDENTIAL}" in text
    assert "- The org reaches the webhook" in text


async def test_doctor_with_the_host_stopped_checks_the_route_itself(
    make_stack: StackFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack(store_url=sqlite_url(tmp_path))
    config = stack_config(tmp_path, stack, sqlite_url(tmp_path))
    await stack.host.stop()  # the package stays deployed; nothing answers the webhook

    code = await run_cli("doctor", "--config", str(config), "--json")

    report = json.loads(capsys.readouterr().out)
    by_id = {c["id"]: c for c in report["checks"]}
    ping = by_id["ping"]
    assert ping["status"] == "warn"
    assert "the host is not running" in ping["detail"]
    assert "accepts this install's token and signature" in ping["detail"]
    assert "opencx-salesforce serve" in ping["fix"]
    assert all(c["status"] == "ok" for c in report["checks"] if c["id"] != "ping")
    assert code == 0  # warnings alone


def test_doctor_refuses_a_memory_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path,
        store_url="memory://",
        public_url="https://bot.example.com",
        salesforce={"dev_mode": True},
    )

    code = main(["doctor", "--config", str(config)])

    assert code == 2
    assert "memory://" in capsys.readouterr().err


def test_doctor_json_is_json_when_no_check_can_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A store that does not open (here a folder that is not there): --json
    # printed the plain text line, which breaks the scripts that parse it.
    config = write_config(
        tmp_path,
        store_url=f"sqlite:///{tmp_path}/missing/opencx.db",
        public_url="https://bot.example.com",
        salesforce={"dev_mode": True},
    )
    code = main(["doctor", "--config", str(config), "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 1 and answer["ok"] is False and answer["exit_code"] == 1
    assert "cannot open the store" in answer["error"] and "does not exist" in answer["error"]
    # A configuration refused is exit 2, in JSON too.
    config = write_config(
        tmp_path,
        store_url="memory://",
        public_url="https://bot.example.com",
        salesforce={"dev_mode": True},
    )
    assert main(["doctor", "--config", str(config), "--json"]) == 2
    assert "memory://" in json.loads(capsys.readouterr().out)["error"]


# --- apex --------------------------------------------------------------------------------


async def test_apex_writes_the_package_of_the_running_install(
    make_stack: StackFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack(store_url=sqlite_url(tmp_path), deploy=False)
    config = stack_config(tmp_path, stack, sqlite_url(tmp_path))
    out = tmp_path / "package"

    # The stack's public URL is 127.0.0.1: Salesforce could not call it.
    refused = await run_cli("apex", "--config", str(config), "--out", str(out))
    assert refused == 2
    assert "--allow-local" in capsys.readouterr().err
    assert not out.exists()

    code = await run_cli("apex", "--config", str(config), "--out", str(out), "--allow-local")

    printed = capsys.readouterr().out
    assert code == 0
    assert named_credential_endpoint(out) == stack.runtime.webhook_url
    for path in (
        Path("sfdx-project.json"),
        Path(f"force-app/main/default/classes/{names.CALLOUT_CLASS}.cls"),
        *(Path(f"force-app/main/default/triggers/{t}.trigger") for t in names.TRIGGERS),
        NAMED_CREDENTIAL_FILE,
        SECRET_RECORD_FILE,
    ):
        assert (out / path).is_file(), path
        assert path.as_posix() in printed
    assert SECRET in (out / SECRET_RECORD_FILE).read_text(encoding="utf-8")
    assert stat.S_IMODE((out / SECRET_RECORD_FILE).stat().st_mode) == 0o600
    assert "sf project deploy start --source-dir force-app" in printed
    assert stack.runtime.webhook_token not in printed


def test_apex_for_a_public_url_uses_the_stores_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        store_url=sqlite_url(tmp_path),
        public_url="https://bot.example.com",
        salesforce={"dev_mode": True},
    )
    out = tmp_path / "package"

    assert main(["apex", "--config", str(config), "--out", str(out)]) == 0
    first = named_credential_endpoint(out)
    # Again, over the same folder: the same install, the same URL.
    assert main(["apex", "--config", str(config), "--out", str(out), "--force"]) == 0
    capsys.readouterr()

    async def stored_token() -> str:
        store = await open_store(sqlite_url(tmp_path))
        try:
            return await ensure_webhook_token(store)
        finally:
            await store.close()

    async def stored_signing_secret() -> str | None:
        store = await open_store(sqlite_url(tmp_path))
        try:
            return await ensure_signing_secret(SalesforceSettings(dev_mode=True), store)
        finally:
            await store.close()

    token = asyncio.run(stored_token())
    assert first == f"https://bot.example.com/integrations/salesforce/webhook/{token}"
    assert named_credential_endpoint(out) == first
    # No signing secret configured: signed all the same, with the install's own
    # secret from the store (the one the running host verifies with).
    secret = asyncio.run(stored_signing_secret())
    assert secret is not None and secret in (out / SECRET_RECORD_FILE).read_text()


def test_apex_without_public_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path,
        store_url=sqlite_url(tmp_path),
        public_url=None,
        salesforce={"dev_mode": True, **PLUGIN_SETTINGS},
    )

    code = main(["apex", "--config", str(config), "--out", str(tmp_path / "package")])

    assert code == 2
    assert "host.public_url is not set" in capsys.readouterr().err
    assert not (tmp_path / "package").exists()


def test_apex_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        store_url=sqlite_url(tmp_path),
        public_url="https://bot.example.com",
        salesforce={"dev_mode": True, "webhook_signing_secret": SECRET},
    )
    out = tmp_path / "package"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")

    code = main(["apex", "--config", str(config), "--out", str(out)])

    assert code == 2
    assert "--force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]

    assert main(["apex", "--config", str(config), "--out", str(out), "--force"]) == 0
    assert (out / NAMED_CREDENTIAL_FILE).is_file()
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
