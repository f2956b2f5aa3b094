"""Token refresh: single flight in a process and across host instances, rotation,
and the needs-reauthorization state. Token requests are counted at the server."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from salesforce_support import (
    ACCESS_TOKEN,
    API_PATH,
    CLIENT_ID,
    NEW_ACCESS_TOKEN,
    REFRESH_TOKEN,
    ROTATED_REFRESH_TOKEN,
    SESSION_EXPIRED,
    TOKEN_PATH,
    FakeSalesforce,
    Reply,
    Seen,
    connect,
    make_manager,
)

from opencx_salesforce.salesforce import (
    ClientCredentials,
    ConnectionState,
    Grant,
    NeedsReauthorization,
    OAuthClient,
    RefreshTimedOut,
    SalesforceClient,
    SecretBox,
    TokenManager,
    TokenResponse,
    Unavailable,
)
from opencx_salesforce.salesforce.secrets import NAMESPACE
from opencx_salesforce.salesforce.tokens import LOCK_KEY
from opencx_salesforce.store.memory import MemoryStore

CASE = f"{API_PATH}/sobjects/Case/500A"


def expire_old_token(fake: FakeSalesforce) -> None:
    """The org refuses the first access token and accepts any other."""

    def answer(seen: Seen) -> Reply:
        if seen.bearer == ACCESS_TOKEN:
            return Reply(401, SESSION_EXPIRED)
        return Reply(json={"Id": "500A"})

    fake.on("GET", CASE, answer)


async def test_200_concurrent_calls_make_one_token_request(
    client: SalesforceClient, connected: TokenManager, fake: FakeSalesforce
) -> None:
    expire_old_token(fake)
    # A slow token endpoint keeps the refresh in flight while the others arrive.
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer(), delay=0.1))
    results = await asyncio.gather(*(client.get("Case", "500A") for _ in range(200)))
    assert all(r["Id"] == "500A" for r in results)
    assert len(fake.token_calls()) == 1
    assert connected.refreshes == 1
    assert len(fake.calls("GET", CASE)) == 400  # each call: once refused, once served


class LockCountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.lock_attempts = 0

    async def set_if_absent(
        self, ns: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        if key == LOCK_KEY:
            self.lock_attempts += 1
        return await super().set_if_absent(ns, key, value, ttl=ttl)


async def test_callers_in_one_process_share_one_refresh_without_touching_the_lock(
    box: SecretBox,
    oauth: OAuthClient,
    credentials: ClientCredentials,
    session: aiohttp.ClientSession,
    fake: FakeSalesforce,
) -> None:
    """In one process the callers wait on one task: only that task goes to the
    store for the cross-instance lock (199 others do not poll it)."""
    store = LockCountingStore()
    tokens = make_manager(store, box, oauth, credentials)
    await connect(tokens, fake.url)
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer(), delay=0.1))
    results = await asyncio.gather(*(tokens.refresh(ACCESS_TOKEN) for _ in range(200)))
    assert {r.access_token for r in results} == {NEW_ACCESS_TOKEN}
    assert store.lock_attempts == 1
    assert len(fake.token_calls()) == 1


async def test_two_host_instances_on_one_store_refresh_once(
    store: MemoryStore,
    box: SecretBox,
    credentials: ClientCredentials,
    fake: FakeSalesforce,
) -> None:
    expire_old_token(fake)
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer(), delay=0.2))
    async with aiohttp.ClientSession() as one, aiohttp.ClientSession() as two:
        host_a = make_manager(store, box, OAuthClient(one), credentials)
        host_b = make_manager(store, box, OAuthClient(two), credentials)
        await connect(host_a, fake.url)
        client_a = SalesforceClient(host_a, session=one)
        client_b = SalesforceClient(host_b, session=two)
        calls = [c.get("Case", "500A") for c in (client_a, client_b) for _ in range(100)]
        await asyncio.gather(*calls)
    assert len(fake.token_calls()) == 1
    assert host_a.refreshes + host_b.refreshes == 1


async def test_a_crashed_lock_holder_delays_but_does_not_block(
    connected: TokenManager, store: MemoryStore, fake: FakeSalesforce
) -> None:
    # Another instance took the lock and died: its TTL runs out, then we refresh.
    await store.set(NAMESPACE, LOCK_KEY, b"dead-instance", ttl=0.3)
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer()))
    started = time.monotonic()
    fresh = await connected.refresh(ACCESS_TOKEN)
    assert fresh.access_token == NEW_ACCESS_TOKEN
    assert time.monotonic() - started >= 0.25
    assert len(fake.token_calls()) == 1
    assert await store.get(NAMESPACE, LOCK_KEY) is None  # released


async def test_a_lock_held_too_long_is_a_retryable_error(
    store: MemoryStore,
    box: SecretBox,
    oauth: OAuthClient,
    credentials: ClientCredentials,
    fake: FakeSalesforce,
) -> None:
    tokens = TokenManager(store, box, oauth, credentials=credentials, wait_timeout=0.2)
    await connect(tokens, fake.url)
    await store.set(NAMESPACE, LOCK_KEY, b"busy-instance", ttl=30)
    with pytest.raises(RefreshTimedOut) as caught:
        await tokens.refresh(ACCESS_TOKEN)
    assert caught.value.is_retryable
    assert fake.token_calls() == []


async def test_a_refresh_someone_else_did_is_reused(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer()))
    await connected.refresh(ACCESS_TOKEN)
    again = await connected.refresh(ACCESS_TOKEN)  # a late caller with the old token
    assert again.access_token == NEW_ACCESS_TOKEN
    assert len(fake.token_calls()) == 1


async def test_rotation_stores_the_new_refresh_token(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(json=fake.token_answer(refresh_token=ROTATED_REFRESH_TOKEN)),
        Reply(json=fake.token_answer("00Dxx!ACCESS-token-third")),
    )
    first = await connected.refresh(ACCESS_TOKEN)
    assert first.refresh_token == ROTATED_REFRESH_TOKEN
    await connected.refresh(first.access_token)
    sent = [c.form()["refresh_token"] for c in fake.token_calls()]
    assert sent == [REFRESH_TOKEN, ROTATED_REFRESH_TOKEN]
    # Without rotation the old refresh token is kept.
    assert (await connected.access_token()).refresh_token == ROTATED_REFRESH_TOKEN


async def test_rotated_token_survives_a_restart(
    connected: TokenManager,
    store: MemoryStore,
    box: SecretBox,
    oauth: OAuthClient,
    credentials: ClientCredentials,
    fake: FakeSalesforce,
) -> None:
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer(refresh_token=ROTATED_REFRESH_TOKEN)))
    await connected.refresh(ACCESS_TOKEN)
    restarted = make_manager(store, box, oauth, credentials)
    assert (await restarted.access_token()).refresh_token == ROTATED_REFRESH_TOKEN


async def test_invalid_grant_means_needs_reauthorization(
    client: SalesforceClient, connected: TokenManager, fake: FakeSalesforce
) -> None:
    expire_old_token(fake)
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}),
    )
    with pytest.raises(NeedsReauthorization) as caught:
        await client.get("Case", "500A")
    assert caught.value.is_retryable  # queued work waits for the admin
    assert "expired access/refresh token" in caught.value.reason
    assert "Connect again" in caught.value.reason
    status = await connected.status()
    assert status.state is ConnectionState.NEEDS_REAUTHORIZATION
    assert status.reason == caught.value.reason and status.since is not None
    # From now on nothing is sent until an admin connects again.
    before = len(fake.seen)
    with pytest.raises(NeedsReauthorization):
        await client.get("Case", "500A")
    with pytest.raises(NeedsReauthorization):
        await connected.refresh(None)
    assert len(fake.seen) == before
    # Connecting again clears the mark.
    await connect(connected, fake.url, access_token=NEW_ACCESS_TOKEN)
    assert (await client.get("Case", "500A"))["Id"] == "500A"
    assert (await connected.status()).state is ConnectionState.CONNECTED


async def test_invalid_grant_after_another_instance_rotated_is_not_a_disconnect(
    store: MemoryStore,
    box: SecretBox,
    oauth: OAuthClient,
    credentials: ClientCredentials,
    fake: FakeSalesforce,
) -> None:
    """Instance A refreshes with a refresh token that instance B has just rotated
    (B's lock expired under it): Salesforce says invalid_grant, but the store
    already holds B's good tokens, so A uses them."""
    host_a = make_manager(store, box, oauth, credentials)
    host_b = make_manager(store, box, oauth, credentials)
    await connect(host_a, fake.url)

    async def rotated_meanwhile(seen: Seen) -> Reply:
        await connect(
            host_b, fake.url, access_token=NEW_ACCESS_TOKEN, refresh_token=ROTATED_REFRESH_TOKEN
        )
        return Reply(
            400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        )

    fake.on("POST", TOKEN_PATH, rotated_meanwhile)
    fresh = await host_a.refresh(ACCESS_TOKEN)
    assert fresh.access_token == NEW_ACCESS_TOKEN
    assert (await host_a.status()).state is ConnectionState.CONNECTED


async def test_a_client_error_on_refresh_also_needs_an_admin(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(
            400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
        ),
    )
    with pytest.raises(NeedsReauthorization, match="Client ID"):
        await connected.refresh(ACCESS_TOKEN)


async def test_salesforce_down_during_refresh_delays_without_disconnecting(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(503, body="<html>maintenance</html>", content_type="text/html"),
        Reply(json=fake.token_answer()),
    )
    with pytest.raises(Unavailable) as caught:
        await connected.refresh(ACCESS_TOKEN)
    assert caught.value.is_retryable
    assert (await connected.status()).state is ConnectionState.CONNECTED
    assert (await connected.refresh(ACCESS_TOKEN)).access_token == NEW_ACCESS_TOKEN


async def test_rate_limited_refresh_is_retryable(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on("POST", TOKEN_PATH, Reply(400, {"error": "rate_limit_exceeded"}))
    with pytest.raises(Exception) as caught:
        await connected.refresh(ACCESS_TOKEN)
    assert getattr(caught.value, "is_retryable", False)
    assert (await connected.status()).state is ConnectionState.CONNECTED


async def test_no_refresh_token_needs_the_scope(tokens: TokenManager, fake: FakeSalesforce) -> None:
    await connect(tokens, fake.url, refresh_token=None)
    with pytest.raises(NeedsReauthorization, match="refresh_token"):
        await tokens.refresh(ACCESS_TOKEN)
    assert fake.token_calls() == []


async def test_client_credentials_grant_renews_by_asking_again(
    tokens: TokenManager, fake: FakeSalesforce
) -> None:
    await tokens.store_tokens(
        TokenResponse(access_token=ACCESS_TOKEN, instance_url=fake.url, id_url=""),
        grant=Grant.CLIENT_CREDENTIALS,
        client_id=CLIENT_ID,
    )
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer()))
    fresh = await tokens.refresh(ACCESS_TOKEN)
    assert fresh.access_token == NEW_ACCESS_TOKEN
    assert fake.token_calls()[0].form()["grant_type"] == "client_credentials"


async def test_a_reconnect_during_a_refresh_wins(
    connected: TokenManager,
    store: MemoryStore,
    box: SecretBox,
    oauth: OAuthClient,
    credentials: ClientCredentials,
    fake: FakeSalesforce,
) -> None:
    admin = make_manager(store, box, oauth, credentials)

    async def reconnected_meanwhile(seen: Seen) -> Reply:
        await connect(admin, fake.url, access_token="00Dxx!ACCESS-from-reconnect")
        return Reply(json=fake.token_answer())

    fake.on("POST", TOKEN_PATH, reconnected_meanwhile)
    result = await connected.refresh(ACCESS_TOKEN)
    assert result.access_token == "00Dxx!ACCESS-from-reconnect"
    assert (await connected.access_token()).access_token == "00Dxx!ACCESS-from-reconnect"


async def test_a_cancelled_caller_does_not_cancel_the_shared_refresh(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer(), delay=0.2))
    impatient = asyncio.create_task(connected.refresh(ACCESS_TOKEN))
    patient = asyncio.create_task(connected.refresh(ACCESS_TOKEN))
    await asyncio.sleep(0.05)
    impatient.cancel()
    assert (await patient).access_token == NEW_ACCESS_TOKEN
    assert len(fake.token_calls()) == 1


# --- status for the admin page --------------------------------------------------------


async def test_status_walks_through_every_state(
    store: MemoryStore, box: SecretBox, oauth: OAuthClient, fake: FakeSalesforce
) -> None:
    tokens = TokenManager(store, box, oauth)
    assert (await tokens.status()).state is ConnectionState.NOT_CONFIGURED
    with pytest.raises(NeedsReauthorization, match="not connected"):
        await tokens.access_token()

    await tokens.save_credentials(fake.url + "/", CLIENT_ID, "SECRET-client-9f8e7d6c5b4a")
    saved = await tokens.status()
    assert saved.state is ConnectionState.CREDENTIALS_SAVED
    assert saved.login_url == fake.url and saved.client_id == CLIENT_ID

    await connect(tokens, fake.url)
    connected = await tokens.status()
    assert connected.state is ConnectionState.CONNECTED
    assert connected.instance_url == fake.url

    # A different Connected App: the old tokens are not its tokens.
    await tokens.save_credentials(fake.url, "3MVG9another.app", "SECRET-other")
    changed = await tokens.status()
    assert changed.state is ConnectionState.NEEDS_REAUTHORIZATION
    assert changed.reason is not None and "Client ID changed" in changed.reason


async def test_saved_credentials_override_configured_ones(
    tokens: TokenManager, fake: FakeSalesforce
) -> None:
    assert (await tokens.credentials()) is not None
    await tokens.save_credentials("https://test.salesforce.com", "3MVG9sandbox", "SECRET-sbx")
    creds = await tokens.credentials()
    assert creds is not None and creds.client_id == "3MVG9sandbox"
    assert "SECRET-sbx" not in repr(creds)


async def test_stored_tokens_unreadable_with_a_new_key_show_on_the_status_page(
    connected: TokenManager, store: MemoryStore, oauth: OAuthClient
) -> None:
    from opencx_salesforce.salesforce import generate_key

    other = TokenManager(store, SecretBox(generate_key()), oauth)
    status = await other.status()
    assert status.state is ConnectionState.NEEDS_REAUTHORIZATION
    assert status.reason is not None and "encryption_key" in status.reason
    # Queued work waits for the admin to fix the key instead of failing for good.
    with pytest.raises(NeedsReauthorization) as caught:
        await other.access_token()
    assert caught.value.is_retryable and "encryption_key" in caught.value.reason
    await other.save_credentials("https://login.salesforce.com", CLIENT_ID, "SECRET-x")
    assert (await other.status()).state is ConnectionState.NEEDS_REAUTHORIZATION


def test_refresh_lock_outlasts_a_token_request() -> None:
    # The OAuth client gives up after 30 s by default; the lock must last longer
    # or a slow refresh would let a second instance start another one.
    defaults = TokenManager.__init__.__kwdefaults__ or {}
    oauth_defaults = OAuthClient.__init__.__kwdefaults__ or {}
    assert defaults["lock_ttl"] > oauth_defaults["timeout"]
