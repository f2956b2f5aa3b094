"""Settings mistakes are reported with the key as the user wrote it (TOML key or
environment variable) and what was expected; good settings load."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from opencx_salesforce.devhost import load_config
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.settings import SalesforceSettings, load_settings

KEY = Fernet.generate_key().decode()
DEV: dict[str, object] = {"dev_mode": True}


def problem(section: dict[str, object], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(section, env or {})
    return str(caught.value)


def test_missing_encryption_key_outside_dev_mode_names_both_places_and_the_recipe() -> None:
    message = problem({})
    assert message.startswith(
        "salesforce.encryption_key (or OPENCX_SALESFORCE_ENCRYPTION_KEY): required outside dev mode"
    )
    assert "Fernet.generate_key()" in message
    # Dev mode is the one place it may be left out.
    assert load_settings(DEV, {}).encryption_key is None


def test_wrong_type_names_the_key_and_what_was_expected() -> None:
    assert problem({**DEV, "sweep_interval_seconds": "often"}) == (
        "salesforce.sweep_interval_seconds: expected a number, got 'often'"
    )
    assert problem({**DEV, "publish_transcript": "maybe"}) == (
        "salesforce.publish_transcript: expected true or false, got 'maybe'"
    )


def test_value_out_of_range_names_the_bound() -> None:
    assert problem({**DEV, "sweep_interval_seconds": 1}) == (
        "salesforce.sweep_interval_seconds: expected a number >= 5, got 1"
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://x", "expected an https URL such as https://login.salesforce.com, got 'ftp://x'"),
        ("http://login.salesforce.com", "plain http is only for 127.0.0.1/localhost"),
        ("https://login.salesforce.com/services/oauth2/authorize", "without a path"),
        ("https://login.salesforce.com?x=1", "without query"),
        ("login.salesforce.com", "expected an https URL"),
    ],
)
def test_bad_login_url_is_named(url: str, why: str) -> None:
    message = problem({**DEV, "login_url": url})
    assert message.startswith("salesforce.login_url: ")
    assert why in message


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme.my.salesforce.com/", "https://acme.my.salesforce.com"),
        ("http://127.0.0.1:8443", "http://127.0.0.1:8443"),
        ("http://localhost:9000/", "http://localhost:9000"),
    ],
)
def test_sandbox_my_domain_and_loopback_emulator_urls_are_accepted(url: str, kept: str) -> None:
    assert load_settings({**DEV, "login_url": url}, {}).login_url == kept


def test_unknown_key_is_an_error_suggesting_the_closest_key() -> None:
    assert problem({**DEV, "client_secert": "x"}) == (
        "salesforce.client_secert: unknown key (did you mean 'client_secret'?)"
    )


def test_a_misspelt_key_of_the_live_table_suggests_the_closest_key_too() -> None:
    # It said "extra inputs are not permitted", with no suggestion.
    assert problem({**DEV, "live": {"chanels": ["chat"]}}) == (
        "salesforce.live.chanels: unknown key (did you mean 'channels'?)"
    )
    assert problem(DEV, {"OPENCX_SALESFORCE_LIVE": '{"chanels": []}'}) == (
        "OPENCX_SALESFORCE_LIVE (at chanels): unknown key (did you mean 'channels'?)"
    )


def test_every_problem_is_reported_at_once() -> None:
    message = problem({**DEV, "logn_url": "x", "api_version": "62", "dev_mode": True})
    lines = message.splitlines()
    assert lines[0] == "salesforce.logn_url: unknown key (did you mean 'login_url'?)"
    assert lines[1] == "salesforce.api_version: expected an API version such as 62.0, got '62'"


def test_environment_overrides_the_toml_section() -> None:
    settings = load_settings(
        {"login_url": "https://test.salesforce.com", "encryption_key": KEY},
        {
            "OPENCX_SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com",
            "OPENCX_SALESFORCE_PUBLISH_TRANSCRIPT": "true",
            "OPENCX_SALESFORCE_ORIGIN_BY_CHANNEL": '{"chat": "Chat"}',
            "OTHER_VARIABLE": "ignored",
        },
    )
    assert settings.login_url == "https://acme.my.salesforce.com"
    assert settings.publish_transcript is True
    # A partial map keeps the defaults of the channels it does not name.
    assert settings.origin_by_channel["chat"] == "Chat"
    assert settings.origin_by_channel["email"] == "Email"


def test_an_empty_environment_variable_counts_as_not_set() -> None:
    # Compose and Kubernetes pass empty variables for values nobody filled in;
    # each was refused ("expected a whole number, got ''"), not left unset.
    settings = load_settings(
        {
            "login_url": "https://test.salesforce.com",
            "encryption_key": KEY,
            "outbox_concurrency": 7,
        },
        {
            "OPENCX_SALESFORCE_OUTBOX_CONCURRENCY": "",
            "OPENCX_SALESFORCE_LOGIN_URL": "  ",
            "OPENCX_SALESFORCE_DEV_MODE": "",
            "OPENCX_SALESFORCE_SWEEP_INTERVAL_SECONDS": "",
        },
    )
    assert settings.outbox_concurrency == 7  # the file's
    assert settings.login_url == "https://test.salesforce.com"
    assert settings.dev_mode is False


def test_environment_error_names_the_variable_not_the_toml_key() -> None:
    message = problem(
        {**DEV, "sweep_interval_seconds": 60},
        {"OPENCX_SALESFORCE_SWEEP_INTERVAL_SECONDS": "1"},
    )
    assert message == "OPENCX_SALESFORCE_SWEEP_INTERVAL_SECONDS: expected a number >= 5, got '1'"
    assert problem(DEV, {"OPENCX_SALESFORCE_LOGIN_URL": "ftp://x"}).startswith(
        "OPENCX_SALESFORCE_LOGIN_URL: expected an https URL"
    )


def test_unknown_environment_variable_with_the_prefix_is_named() -> None:
    assert problem(DEV, {"OPENCX_SALESFORCE_CLIENTID": "abc"}) == (
        "OPENCX_SALESFORCE_CLIENTID: unknown variable (did you mean 'OPENCX_SALESFORCE_CLIENT_ID'?)"
    )


def test_environment_table_must_be_json() -> None:
    assert problem(DEV, {"OPENCX_SALESFORCE_PRIORITY_MAP": "urgent=High"}).startswith(
        'OPENCX_SALESFORCE_PRIORITY_MAP: expected a JSON object such as {"chat": "Chat"}'
    )


def test_secrets_are_never_echoed() -> None:
    message = problem({"encryption_key": "hunter2-not-a-fernet-key"})
    assert message.startswith("salesforce.encryption_key: expected a Fernet key")
    assert "hunter2" not in message
    message = problem({**DEV, "webhook_signing_secret": "short-secret"})
    assert message.startswith("salesforce.webhook_signing_secret: expected at least 16")
    assert "short-secret" not in message


def test_scopes_must_allow_a_refresh_token() -> None:
    assert "include refresh_token" in problem({**DEV, "scopes": "api web"})
    assert load_settings({**DEV, "scopes": ["api", "offline_access"]}, {}).scopes == (
        "api offline_access"
    )


def test_unknown_channel_in_origin_map_is_named() -> None:
    message = problem({**DEV, "origin_by_channel": {"whatsap": "WhatsApp"}})
    assert message.startswith(
        "salesforce.origin_by_channel: unknown channel 'whatsap' (did you mean 'whatsapp'?)"
    )


def test_cross_field_check_names_its_key() -> None:
    assert problem({**DEV, "backoff_base_seconds": 10, "backoff_cap_seconds": 5}).startswith(
        "salesforce.backoff_cap_seconds: expected a value >= backoff_base_seconds"
    )


def test_api_version_written_as_a_toml_number_or_with_a_v_is_understood() -> None:
    assert load_settings({**DEV, "api_version": 61.0}, {}).api_version == "61.0"
    assert load_settings({**DEV, "api_version": "v60.0"}, {}).api_version == "60.0"


def test_settings_constructed_directly_for_tests() -> None:
    settings = SalesforceSettings(login_url="http://127.0.0.1:8443", dev_mode=True)
    assert settings.login_url == "http://127.0.0.1:8443"
    assert settings.api_version == "62.0"


# --- the host's file -----------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "host.toml"
    path.write_text(text)
    return path


def test_host_table_errors_name_host_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[host]\nadmin_token = "0123456789abcdef-token"\nlisten_port = "eighty"\n'
        'store_url = "mongodb://db"\nadmin_tokn = "x"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert message.startswith(f"{path}:\n")
    assert "host.admin_tokn: unknown key (did you mean 'admin_token'?)" in message
    assert "host.listen_port: expected a whole number, got 'eighty'" in message
    assert "host.store_url: expected a store URL" in message


def test_host_environment_variables_override_and_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[host]\nlisten_port = 9000\n[salesforce]\ndev_mode = true\n")
    settings, sections = load_config(
        path,
        env={
            "OPENCX_HOST_ADMIN_TOKEN": "from-the-environment-0123",
            "OPENCX_HOST_LISTEN_PORT": "9001",
        },
    )
    assert settings.admin_token_value() == "from-the-environment-0123"
    assert settings.listen_port == 9001
    assert sections == {"salesforce": {"dev_mode": True}}
    with pytest.raises(ConfigError, match="OPENCX_HOST_ADMIN_TOKEN: expected at least 16"):
        load_config(path, env={"OPENCX_HOST_ADMIN_TOKEN": "short"})


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[host]\nadmin_token = "unterminated\n')
    with pytest.raises(ConfigError, match=r"host\.toml: not valid TOML: .*line 2"):
        load_config(path, env={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml", env={})


def test_setting_outside_any_table_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, 'admin_token = "0123456789abcdef-token"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert "admin_token: a setting outside any table" in str(caught.value)


def test_sample_config_loads_through_the_hosts_code() -> None:
    sample = Path(__file__).resolve().parents[2] / "sample_config.toml"
    env = {
        "OPENCX_HOST_ADMIN_TOKEN": "sample-admin-token-0123456789",
        "OPENCX_SALESFORCE_ENCRYPTION_KEY": KEY,
    }
    settings, sections = load_config(sample, env=env)
    assert settings.public_url == "https://bot.example.com"
    assert settings.store_url == "sqlite:///opencx.db"
    assert settings.plugins == ["salesforce"]
    salesforce = load_settings(sections["salesforce"], env)
    assert salesforce.login_url == "https://login.salesforce.com"
    assert salesforce.encryption_key_value() == KEY
    # Every setting is written out in the sample, so a reader sees them all
    # (the secrets commented out: they belong in the environment).
    text = sample.read_text()
    for key in SalesforceSettings.model_fields:
        assert f"\n{key} = " in text or f"\n# {key} = " in text or f"[salesforce.{key}]" in text
    # Without the secrets from the environment, the sample says what is missing.
    with pytest.raises(ConfigError, match=r"host\.admin_token \(or OPENCX_HOST_ADMIN_TOKEN\)"):
        load_config(sample, env={})
