"""A plugin table no loaded plugin reads is an error with did-you-mean, reported
with the plugins' own configuration errors in one pass (issue #20): the sample
config promises that nothing is silently ignored. The install commands (doctor,
apex, connect) report the `[host]` table's mistakes with `[salesforce]`'s."""

from __future__ import annotations

from pathlib import Path

import pytest
from foundation_support import ADMIN_TOKEN, StartHost

from opencx_salesforce.cli import main
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.plugin import SalesforcePlugin


@pytest.mark.parametrize("table", ["salesforc", "Salesforce"])
async def test_a_misspelt_table_fails_with_did_you_mean(start_host: StartHost, table: str) -> None:
    with pytest.raises(ConfigError) as refused:
        await start_host(
            plugins={"salesforce": SalesforcePlugin()},
            plugin_sections={"salesforce": {"dev_mode": True}, table: {"dev_mode": True}},
        )
    assert f"[{table}]: no loaded plugin is called {table!r} (did you mean 'salesforce'?)" in str(
        refused.value
    )


async def test_table_and_plugin_errors_come_in_one_pass(start_host: StartHost) -> None:
    with pytest.raises(ConfigError) as refused:
        await start_host(
            plugins={"salesforce": SalesforcePlugin()},
            plugin_sections={"salesforce": {"dev_mode": True, "logn_url": "x"}, "salesforc": {}},
        )
    message = str(refused.value)
    assert "[salesforc]: no loaded plugin" in message
    assert "logn_url" in message and "did you mean 'login_url'" in message


def test_serve_names_the_misspelt_table_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        f'[host]\nadmin_token = "{ADMIN_TOKEN}"\nstore_url = "memory://"\nlisten_port = 0\n'
        "[salesforc]\ndev_mode = true\n"
    )
    assert main(["serve", "--config", str(config)]) == 2
    assert "[salesforc]: no loaded plugin is called 'salesforc'" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["doctor"], ["apex", "--out", "package"], ["connect"]])
def test_an_install_command_names_every_mistake_of_host_and_plugin_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        '[host]\nadmin_token = "short"\nstore_url = "memory://"\n'
        '[salesforce]\noutbox_concurrency = -3\nlogn_url = "https://login.salesforce.com"\n'
    )
    out = tmp_path / "package"
    argv = [word if word != "package" else str(out) for word in command]
    assert main([*argv, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    # One error, under the file's name, with the host's mistake and the plugin's.
    assert f"{config}:\n  host.admin_token: expected at least 16 characters" in err
    assert "\n  salesforce.outbox_concurrency: expected a number >= 1, got -3" in err
    assert "\n  salesforce.logn_url: unknown key (did you mean 'login_url'?)" in err
    assert not out.exists()


def test_a_missing_admin_token_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said only "required but not set"; a too-short one said how to make one.
    monkeypatch.delenv("OPENCX_HOST_ADMIN_TOKEN", raising=False)
    config = tmp_path / "host.toml"
    config.write_text('[host]\nstore_url = "memory://"\nlisten_port = 0\n')
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert (
        "host.admin_token (or OPENCX_HOST_ADMIN_TOKEN): required but not set; make one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    ) in err
