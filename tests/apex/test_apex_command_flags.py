"""``opencx-salesforce apex --no-email --legacy-named-credential``: the package for an
old org, as an admin asks for it on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opencx_salesforce.apex import names
from opencx_salesforce.cli import main

SOURCE = Path("force-app/main/default")


def config(folder: Path, **salesforce: object) -> Path:
    path = folder / "opencx.toml"
    store_url = f"sqlite:///{folder / 'opencx.db'}"
    lines = [
        "[host]",
        'public_url = "https://bot.example.com"',
        f"store_url = {json.dumps(store_url)}",
        'admin_token = "admin-token-for-tests-0123456789"',
        "",
        "[salesforce]",
        "dev_mode = true",
        *(f"{key} = {json.dumps(value)}" for key, value in salesforce.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_by_default_the_package_has_email_and_the_current_named_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "package"
    assert main(["apex", "--config", str(config(tmp_path)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (out / SOURCE / f"triggers/{names.EMAIL_MESSAGE_TRIGGER}.trigger").is_file()
    assert (
        out
        / SOURCE
        / f"externalCredentials/{names.EXTERNAL_CREDENTIAL}.externalCredential-meta.xml"
    ).is_file()
    assert f"sf org assign permset --name {names.CALLOUT_PERMISSION_SET}" in printed


def test_no_email_and_legacy_named_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "package"
    argv = ["apex", "--config", str(config(tmp_path)), "--out", str(out)]
    assert main([*argv, "--no-email", "--legacy-named-credential"]) == 0
    printed = capsys.readouterr().out
    assert not (out / SOURCE / f"triggers/{names.EMAIL_MESSAGE_TRIGGER}.trigger").exists()
    assert not (out / SOURCE / "externalCredentials").exists()
    credential = (
        out / SOURCE / f"namedCredentials/{names.NAMED_CREDENTIAL}.namedCredential-meta.xml"
    )
    assert "<endpoint>https://bot.example.com/" in credential.read_text(encoding="utf-8")
    assert names.CALLOUT_PERMISSION_SET not in printed


def test_an_old_api_version_needs_the_legacy_named_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "package"
    argv = ["apex", "--config", str(config(tmp_path, api_version="55.0")), "--out", str(out)]
    assert main(argv) == 2
    assert "--legacy-named-credential" in capsys.readouterr().err
    assert main([*argv, "--force", "--legacy-named-credential"]) == 0
