"""No client secret, access token or refresh token ever reaches a log line or an
exception message: drive every path that logs or raises, at DEBUG, and scan."""

from __future__ import annotations

import traceback
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from salesforce_support import (
    ACCESS_TOKEN,
    API_PATH,
    CLIENT_ID,
    CLIENT_SECRET,
    NEW_ACCESS_TOKEN,
    REFRESH_TOKEN,
    REVOKE_PATH,
    ROTATED_REFRESH_TOKEN,
    SESSION_EXPIRED,
    TOKEN_PATH,
    FakeSalesforce,
    Reply,
    connect,
)

from opencx_salesforce.salesforce import (
    ClientCredentials,
    Grant,
    OAuthClient,
    SalesforceClient,
    SecretBox,
    TokenManager,
    TokenResponse,
    generate_key,
)
from opencx_salesforce.store.memory import MemoryStore

SECRETS = [CLIENT_SECRET, ACCESS_TOKEN, NEW_ACCESS_TOKEN, REFRESH_TOKEN, ROTATED_REFRESH_TOKEN]
CASE = f"{API_PATH}/sobjects/Case/500A"


def everything_about(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


async def test_no_secret_in_logs_or_errors(
    store: MemoryStore,
    box: SecretBox,
    session: aiohttp.ClientSession,
    fake: FakeSalesforce,
    caplog: pytest.LogCaptureFixture,
    unused_tcp_port: int,
) -> None:
    caplog.set_level("DEBUG")
    seen_errors: list[BaseException] = []
    oauth = OAuthClient(session, timeout=0.5)
    tokens = TokenManager(
        store, box, oauth, credentials=ClientCredentials(fake.url, CLIENT_ID, CLIENT_SECRET)
    )
    client = SalesforceClient(tokens, session=session, timeout=0.5)

    async def attempt(coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except Exception as exc:
            seen_errors.append(exc)

    # Connect by the web server flow (the verifier and code travel too).
    url = await tokens.start_authorization(f"{fake.url}/cb", ["full"])
    state = parse_qs(urlsplit(url).query)["state"][0]
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(json={**fake.token_answer(ACCESS_TOKEN), "refresh_token": REFRESH_TOKEN}),
        # refresh with rotation
        Reply(json=fake.token_answer(NEW_ACCESS_TOKEN, refresh_token=ROTATED_REFRESH_TOKEN)),
        # a 200 that holds tokens but no access token
        Reply(json={"refresh_token": ROTATED_REFRESH_TOKEN, "instance_url": fake.url}),
        # an outage page
        Reply(503, body="<html>maintenance</html>", content_type="text/html"),
        # and finally the refresh token is dead
        Reply(400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}),
    )
    await tokens.complete_authorization("aPrxCODE", state)

    # Expired session -> refresh (rotation) -> retry.
    fake.on("GET", CASE, Reply(401, SESSION_EXPIRED), Reply(json={"Id": "500A"}))
    await client.get("Case", "500A")
    # Malformed token answer, outage, then invalid_grant.
    for _ in range(3):
        await attempt(tokens.refresh(None))
    await attempt(client.get("Case", "500A"))
    # REST errors of every kind.
    await connect(tokens, fake.url, access_token=ACCESS_TOKEN, refresh_token=REFRESH_TOKEN)
    fake.on(
        "GET",
        f"{API_PATH}/limits",
        Reply(400, [{"message": "bad", "errorCode": "MALFORMED_QUERY"}]),
        Reply(
            403,
            [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        ),
        Reply(500, body="<html>oops</html>", content_type="text/html"),
        Reply(json={}, delay=2.0),
        Reply(reset=True),
    )
    for _ in range(5):
        await attempt(client.limits())
    # Unreachable hosts for every OAuth call.
    nowhere = f"http://127.0.0.1:{unused_tcp_port}"
    await attempt(oauth.refresh(nowhere, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN))
    await attempt(oauth.exchange_code(nowhere, CLIENT_ID, CLIENT_SECRET, "c", "https://x", "v"))
    await attempt(oauth.revoke(nowhere, REFRESH_TOKEN))
    await attempt(oauth.identity(f"{nowhere}/id/00D/005", ACCESS_TOKEN))
    check = await oauth.check_client_credentials(nowhere, CLIENT_ID, CLIENT_SECRET, "https://x")
    # Identity refusing the token.
    fake.on("GET", "/id/00D/005", Reply(401, {"error": "invalid_token"}))
    await attempt(oauth.identity(f"{fake.url}/id/00D/005", ACCESS_TOKEN))
    # Disconnect with a failing revoke, and a wrong encryption key.
    fake.on("POST", REVOKE_PATH, Reply(503))
    await tokens.disconnect()
    await attempt(TokenManager(store, SecretBox(generate_key()), oauth).credentials())
    await attempt(
        tokens.store_tokens(
            TokenResponse(
                access_token=ACCESS_TOKEN,
                instance_url=fake.url,
                id_url=f"{nowhere}/id/00D/005",
                refresh_token=REFRESH_TOKEN,
            ),
            grant=Grant.AUTHORIZATION_CODE,
            client_id=CLIENT_ID,
        )
    )

    assert len(seen_errors) >= 12
    status = await tokens.status()
    texts = [everything_about(e) for e in seen_errors]
    texts += [caplog.text, check.message, repr(status), repr(await tokens.credentials())]
    texts += [repr(await tokens.access_token())]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into: {text[:300]}"
    assert "Salesforce access token refreshed" in caplog.text  # the logs did run
