"""Secrets at rest: what the store holds is ciphertext; the key is required,
checked, rotatable; dev mode's generated key is loud."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from salesforce_support import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    ROTATED_REFRESH_TOKEN,
    TOKEN_PATH,
    FakeSalesforce,
    Reply,
    connect,
)

from opencx_salesforce.errors import ConfigError
from opencx_salesforce.salesforce import (
    OAuthClient,
    SecretBox,
    SecretsError,
    TokenManager,
    generate_key,
    mask,
)
from opencx_salesforce.salesforce.secrets import DEV_KEY, NAMESPACE
from opencx_salesforce.store.memory import MemoryStore


async def raw_values(store: MemoryStore) -> list[bytes]:
    values = []
    for key in await store.keys(NAMESPACE):
        value = await store.get(NAMESPACE, key)
        assert value is not None
        values.append(value)
    return values


async def test_the_store_never_holds_a_token_or_the_secret_in_clear(
    store: MemoryStore, box: SecretBox, oauth: OAuthClient, fake: FakeSalesforce
) -> None:
    tokens = TokenManager(store, box, oauth)
    await tokens.save_credentials(fake.url, CLIENT_ID, CLIENT_SECRET)
    await connect(tokens, fake.url)
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer(refresh_token=ROTATED_REFRESH_TOKEN)))
    refreshed = await tokens.refresh(ACCESS_TOKEN)
    await tokens.start_authorization(f"{fake.url}/callback", ["full"])  # a pending verifier too

    values = await raw_values(store)
    assert len(values) >= 3
    secrets = [CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, ROTATED_REFRESH_TOKEN]
    secrets.append(refreshed.access_token)
    for value in values:
        for secret in secrets:
            assert secret.encode() not in value
        # Fernet tokens all start with version byte 0x80, base64url "gAAAAA".
        assert value.startswith(b"gAAAAA")
    # And yet everything reads back.
    assert (await tokens.access_token()).refresh_token == ROTATED_REFRESH_TOKEN


def test_box_round_trip_and_rotation() -> None:
    old, new = generate_key(), generate_key()
    sealed_with_old = SecretBox(old).encrypt(b"token")
    rotated = SecretBox(f"{new}, {old}")
    assert rotated.decrypt(sealed_with_old) == b"token"
    # New writes use the first key: readable without the old one.
    assert SecretBox(new).decrypt(rotated.encrypt(b"token")) == b"token"


def test_wrong_key_is_a_clear_error_naming_the_setting() -> None:
    sealed = SecretBox(generate_key()).encrypt(b"token")
    with pytest.raises(SecretsError, match=r"salesforce\.encryption_key") as caught:
        SecretBox(generate_key(), setting="salesforce.encryption_key").decrypt(sealed)
    assert "rotate" in str(caught.value)


@pytest.mark.parametrize("bad", ["not-a-key", "x" * 44, Fernet.generate_key().decode()[:-2]])
def test_malformed_key_names_the_setting_not_the_value(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SecretBox(bad, setting="OPENCX_SALESFORCE_ENCRYPTION_KEY")
    assert "OPENCX_SALESFORCE_ENCRYPTION_KEY" in str(caught.value)
    assert bad not in str(caught.value)
    assert "Fernet.generate_key" in str(caught.value)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        SecretBox(" , ")


async def test_missing_key_outside_dev_mode_refuses_to_start(store: MemoryStore) -> None:
    with pytest.raises(ConfigError, match="encryption_key is not set"):
        await SecretBox.from_settings(None, store=store, dev_mode=False)
    assert await store.get(NAMESPACE, DEV_KEY) is None


async def test_dev_mode_generates_one_key_per_store_loudly(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        first = await SecretBox.from_settings(None, store=store, dev_mode=True)
    assert "DEV MODE" in caplog.text and "protects nothing" in caplog.text
    assert await store.get(NAMESPACE, DEV_KEY) is not None
    # A second host instance on the same store reads what the first wrote.
    second = await SecretBox.from_settings(None, store=store, dev_mode=True)
    assert second.decrypt(first.encrypt(b"shared")) == b"shared"


async def test_configured_key_wins_even_in_dev_mode(store: MemoryStore) -> None:
    key = generate_key()
    box = await SecretBox.from_settings(key, store=store, dev_mode=True)
    assert SecretBox(key).decrypt(box.encrypt(b"x")) == b"x"
    assert await store.get(NAMESPACE, DEV_KEY) is None


def test_mask() -> None:
    assert mask(CLIENT_SECRET) == f"SECR…({len(CLIENT_SECRET)} chars)"
    assert CLIENT_SECRET not in mask(CLIENT_SECRET)
    assert mask("") == "(none)"
    assert mask("short") == "…(5 chars)"
