"""The client against the Salesforce emulator over real HTTP: connecting by the
web server flow as an admin would, the REST helpers, session expiry with
single-flight refresh counted at the emulator, rotation, revocation, the
credential check, and the emulator's injected faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from salesforce_support import LiveOrg, sign_in, start_live_org

from opencx_salesforce.emulator.faults import LOCK
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.salesforce import (
    AuthorizationError,
    ClientCredentials,
    ConnectionState,
    CredentialCheckOutcome,
    Graph,
    NeedsReauthorization,
    NotFound,
    OAuthClient,
    RequestLimitExceeded,
    RowLocked,
    SalesforceClient,
    SecretBox,
    Subrequest,
    TokenManager,
    Unavailable,
    ValidationFailed,
)
from opencx_salesforce.store.memory import MemoryStore

SCOPES = "full refresh_token offline_access"
ADMIN = ("admin@acme.example", "admin-password")


async def connect_as_admin(tokens: TokenManager, live: LiveOrg) -> None:
    url = await tokens.start_authorization(live.callback, SCOPES)
    landed = await sign_in(url, live.callback, *ADMIN)
    query = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
    assert "code" in query, landed
    await tokens.complete_authorization(query["code"], query["state"])


@pytest.fixture
async def wired(
    live: LiveOrg, store: MemoryStore, box: SecretBox, session: aiohttp.ClientSession
) -> AsyncIterator[tuple[TokenManager, SalesforceClient]]:
    tokens = TokenManager(store, box, OAuthClient(session), credentials=live.credentials())
    await connect_as_admin(tokens, live)
    yield tokens, SalesforceClient(tokens, session=session)


async def test_an_admin_connects_by_the_web_server_flow(
    live: LiveOrg, wired: tuple[TokenManager, SalesforceClient]
) -> None:
    tokens, _ = wired
    status = await tokens.status()
    assert status.state is ConnectionState.CONNECTED
    assert status.username == "admin@acme.example"
    assert status.org_id == live.org.id
    assert status.instance_url is not None and status.instance_url.startswith(live.url)
    conn = await tokens.access_token()
    assert conn.refresh_token  # the refresh_token scope was granted
    assert [r["grant_type"] for r in live.token_requests] == ["authorization_code"]
    assert live.token_requests[0]["code_verifier"]  # PKCE


async def test_records_queries_and_composite(
    wired: tuple[TokenManager, SalesforceClient],
) -> None:
    _, client = wired
    case_id = await client.create("Case", {"Subject": "Printer on fire", "Case_From__c": "opencx"})
    assert case_id.startswith("500")
    assert (await client.get("Case", case_id, ["Subject"]))["Subject"] == "Printer on fire"
    await client.update("Case", case_id, {"Status": "Working"})

    created = await client.upsert("Case", "OpenCX_Session_Id__c", "sess-1", {"Subject": "A"})
    again = await client.upsert("Case", "OpenCX_Session_Id__c", "sess-1", {"Subject": "B"})
    assert created.created and not again.created and created.id == again.id

    with pytest.raises(NotFound):
        await client.get("Case", "500000000000000AAA")
    with pytest.raises(ValidationFailed) as caught:
        await client.create("Case", {"Subject": "x" * 300})
    assert caught.value.errors[0].error_code == "STRING_TOO_LONG"

    results = await client.composite(
        [
            Subrequest("POST", "sobjects/Case", "newCase", {"Subject": "Composite"}),
            Subrequest(
                "POST",
                "sobjects/CaseComment",
                "comment",
                {"ParentId": "@{newCase.id}", "CommentBody": "first"},
            ),
        ],
        all_or_none=True,
    )
    assert [r.status for r in results] == [201, 201], [r.body for r in results]
    new_case = results[0].body["id"]

    saved = await client.collections_create(
        [
            {"attributes": {"type": "CaseComment"}, "ParentId": new_case, "CommentBody": f"c{i}"}
            for i in range(3)
        ]
    )
    assert all(r.success for r in saved)

    graph = await client.composite_graph(
        [
            Graph(
                "g1",
                [
                    Subrequest("POST", "sobjects/Case", "gCase", {"Subject": "Graph"}),
                    Subrequest(
                        "POST",
                        "sobjects/CaseComment",
                        "gComment",
                        {"ParentId": "@{gCase.id}", "CommentBody": "from a graph"},
                    ),
                ],
            )
        ]
    )
    assert graph[0].is_successful, graph

    comments = await client.query_records(
        f"SELECT Id, CommentBody FROM CaseComment WHERE ParentId = '{new_case}'"
    )
    assert sorted(c["CommentBody"] for c in comments) == ["c0", "c1", "c2", "first"]


async def test_any_text_reaches_salesforce_as_written(
    wired: tuple[TokenManager, SalesforceClient], live: LiveOrg
) -> None:
    """Bodies go as UTF-8 JSON: accents, emoji, quotes, control characters and
    a lone surrogate (which UTF-8 cannot carry: that body is escaped instead)
    all land as they were written."""
    _, client = wired
    for subject in ['Café « 🖨️ » "on fire" \\ \u2028\x00', "half a pair \ud83d"]:
        case_id = await client.create("Case", {"Subject": subject})
        # Read at the org itself: what Salesforce answers for a lone surrogate
        # is not documented (the emulator's own JSON answer cannot carry it).
        assert live.org.records["Case"][case_id]["Subject"] == subject


async def test_query_paging_follows_next_records_url(
    wired: tuple[TokenManager, SalesforceClient],
) -> None:
    _, client = wired
    for chunk in range(11):
        await client.collections_create(
            [{"attributes": {"type": "Case"}, "Subject": f"bulk {chunk}-{i}"} for i in range(200)]
        )
    pages = [p async for p in client.query_all_pages("SELECT Id FROM Case")]
    assert len(pages) >= 2
    assert sum(len(p["records"]) for p in pages) == pages[0]["totalSize"] >= 2200


async def test_usage_limits_and_describe_cache(
    live: LiveOrg, wired: tuple[TokenManager, SalesforceClient]
) -> None:
    _, client = wired
    described = await client.describe("Case")
    assert any(f["name"] == "OpenCX_Session_Id__c" for f in described["fields"])
    calls_before = client.calls
    assert await client.describe("Case") == described  # a 304, served from the cache
    assert client.calls == calls_before + 1
    limits = await client.limits()
    assert limits["DailyApiRequests"]["Max"] == live.org.seed.daily_api_limit
    assert client.usage is not None and client.usage.limit == live.org.seed.daily_api_limit
    assert client.usage.used >= 3


async def test_expired_sessions_refresh_once_for_200_callers(
    live: LiveOrg, wired: tuple[TokenManager, SalesforceClient]
) -> None:
    tokens, client = wired
    case_id = await client.create("Case", {"Subject": "busy"})
    before = len(live.token_requests)
    live.emulator.state.auth.expire_access_tokens(live.org.id)
    records = await asyncio.gather(*(client.get("Case", case_id) for _ in range(200)))
    assert {r["Id"] for r in records} == {case_id}
    refreshes = live.token_requests[before:]
    assert [r["grant_type"] for r in refreshes] == ["refresh_token"]
    assert tokens.refreshes == 1


async def test_two_host_instances_refresh_once_at_the_emulator(
    live: LiveOrg, store: MemoryStore, box: SecretBox
) -> None:
    async with aiohttp.ClientSession() as one, aiohttp.ClientSession() as two:
        host_a = TokenManager(store, box, OAuthClient(one), credentials=live.credentials())
        host_b = TokenManager(store, box, OAuthClient(two), credentials=live.credentials())
        await connect_as_admin(host_a, live)
        client_a = SalesforceClient(host_a, session=one)
        client_b = SalesforceClient(host_b, session=two)
        case_id = await client_a.create("Case", {"Subject": "shared"})
        before = len(live.token_requests)
        live.emulator.state.auth.expire_access_tokens(live.org.id)
        calls = [c.get("Case", case_id) for c in (client_a, client_b) for _ in range(100)]
        await asyncio.gather(*calls)
    assert [r["grant_type"] for r in live.token_requests[before:]] == ["refresh_token"]


async def test_rotation_keeps_the_connection_alive(
    live_rotating: LiveOrg, store: MemoryStore, box: SecretBox, session: aiohttp.ClientSession
) -> None:
    live = live_rotating
    oauth = OAuthClient(session)
    tokens = TokenManager(store, box, oauth, credentials=live.credentials())
    await connect_as_admin(tokens, live)
    client = SalesforceClient(tokens, session=session)
    first = (await tokens.access_token()).refresh_token
    assert first is not None
    for _ in range(3):
        live.emulator.state.auth.expire_access_tokens(live.org.id)
        await client.limits()
    latest = (await tokens.access_token()).refresh_token
    assert latest is not None and latest != first
    sent = [r["refresh_token"] for r in live.token_requests if r["grant_type"] == "refresh_token"]
    assert len(set(sent)) == 3  # each refresh used the token the previous one returned
    # The first refresh token is dead now, as rotation promises.
    with pytest.raises(AuthorizationError) as caught:
        await oauth.refresh(live.url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, first)
    assert caught.value.error == "invalid_grant"


async def test_revoked_access_means_needs_reauthorization_and_reconnect_heals(
    live: LiveOrg, wired: tuple[TokenManager, SalesforceClient]
) -> None:
    tokens, client = wired
    live.emulator.state.auth.revoke_all(live.org.id)  # an admin revoked the app in Salesforce
    with pytest.raises(NeedsReauthorization) as caught:
        await client.limits()
    assert caught.value.is_retryable
    status = await tokens.status()
    assert status.state is ConnectionState.NEEDS_REAUTHORIZATION
    assert status.reason is not None and "Connect again" in status.reason
    await connect_as_admin(tokens, live)
    assert (await tokens.status()).state is ConnectionState.CONNECTED
    assert "DailyApiRequests" in await client.limits()


async def test_disconnect_revokes_at_salesforce(
    live: LiveOrg, wired: tuple[TokenManager, SalesforceClient], session: aiohttp.ClientSession
) -> None:
    tokens, _ = wired
    old = await tokens.access_token()
    assert await tokens.disconnect() is True
    assert (await tokens.status()).state is ConnectionState.CREDENTIALS_SAVED
    assert old.refresh_token is not None
    with pytest.raises(AuthorizationError):
        await OAuthClient(session).refresh(
            live.url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, old.refresh_token
        )


async def test_disconnect_revokes_a_grant_whose_credentials_it_never_held(
    live: LiveOrg, store: MemoryStore, box: SecretBox, session: aiohttp.ClientSession
) -> None:
    # `connect --flow client-credentials` with the credentials in its shell's
    # environment; the host serving the page has them neither saved nor
    # configured. Its Disconnect deleted the grant but left it alive at
    # Salesforce ("revoked at Salesforce: False").
    connector = TokenManager(store, box, OAuthClient(session), credentials=live.credentials())
    await connector.connect_client_credentials()
    grant = await connector.access_token()
    page = TokenManager(store, box, OAuthClient(session))
    assert await page.disconnect() is True
    async with session.get(
        f"{grant.instance_url}/services/data/v62.0/limits",
        headers={"Authorization": f"Bearer {grant.access_token}"},
    ) as answer:
        assert answer.status == 401


async def test_check_client_credentials_against_the_emulator(
    live: LiveOrg, session: aiohttp.ClientSession
) -> None:
    oauth = OAuthClient(session)
    right = await oauth.check_client_credentials(
        live.url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, live.callback
    )
    assert right.outcome is CredentialCheckOutcome.OK, right
    wrong_secret = await oauth.check_client_credentials(
        live.url, DEMO_CLIENT_ID, "not-the-secret", live.callback
    )
    assert wrong_secret.outcome is CredentialCheckOutcome.WRONG_SECRET
    unknown = await oauth.check_client_credentials(
        live.url, "3MVG9nobody", DEMO_CLIENT_SECRET, live.callback
    )
    assert unknown.outcome is CredentialCheckOutcome.WRONG_CLIENT_ID
    # A production app checked at the sandbox login host is unknown there.
    sandbox = await oauth.check_client_credentials(
        f"{live.url}/sandbox", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, live.callback
    )
    assert sandbox.outcome is CredentialCheckOutcome.WRONG_CLIENT_ID
    assert "test.salesforce.com" in sandbox.message
    # None of them spent an API call.
    assert live.org.api_calls.total == 0


async def test_client_credentials_connect_against_the_emulator(
    live: LiveOrg, store: MemoryStore, box: SecretBox, session: aiohttp.ClientSession
) -> None:
    tokens = TokenManager(store, box, OAuthClient(session), credentials=live.credentials())
    status = await tokens.connect_client_credentials()
    assert status.state is ConnectionState.CONNECTED
    assert status.username == "admin@acme.example"  # the app's Run As user
    client = SalesforceClient(tokens, session=session)
    live.emulator.state.auth.expire_access_tokens(live.org.id)
    assert "DailyApiRequests" in await client.limits()
    assert [r["grant_type"] for r in live.token_requests] == [
        "client_credentials",
        "client_credentials",
    ]


async def test_injected_faults_map_to_retryable_errors(
    live: LiveOrg, wired: tuple[TokenManager, SalesforceClient]
) -> None:
    _, client = wired
    faults = live.org.faults
    faults.maintenance_html = True
    faults.begin_outage(live.emulator.state.clock.now())
    with pytest.raises(Unavailable) as down:
        await client.limits()
    assert down.value.is_retryable
    assert "Down for Maintenance" in str(down.value)
    faults.end_outage()
    faults.maintenance_html = False

    faults.fail_next(LOCK)
    with pytest.raises(RowLocked) as locked:
        await client.create("Case", {"Subject": "locked"})
    assert locked.value.is_retryable and locked.value.retry_after is not None
    assert (await client.create("Case", {"Subject": "unlocked"})).startswith("500")


async def test_spent_daily_quota_is_request_limit_exceeded(
    store: MemoryStore, box: SecretBox, session: aiohttp.ClientSession
) -> None:
    live = await start_live_org(
        lambda cb: replace(default_org(callback_urls=(cb,)), daily_api_limit=3)
    )
    try:
        tokens = TokenManager(store, box, OAuthClient(session), credentials=live.credentials())
        await connect_as_admin(tokens, live)
        client = SalesforceClient(tokens, session=session)
        with pytest.raises(RequestLimitExceeded) as caught:
            for _ in range(10):
                await client.limits()
        assert caught.value.is_retryable
        assert client.calls <= 5
        assert (await tokens.status()).state is ConnectionState.CONNECTED  # not an auth problem
    finally:
        await live.emulator.close()


async def test_credentials_from_the_settings_page_reach_the_emulator(
    live: LiveOrg, store: MemoryStore, box: SecretBox, session: aiohttp.ClientSession
) -> None:
    tokens = TokenManager(store, box, OAuthClient(session))
    await tokens.save_credentials(live.url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    await connect_as_admin(tokens, live)
    creds = await tokens.credentials()
    assert creds == ClientCredentials(live.url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    assert (await tokens.status()).state is ConnectionState.CONNECTED
