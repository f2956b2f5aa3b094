"""OAuth: the authorize URL with PKCE, the code exchange through the token
manager, revoke/disconnect, the error hints, and the credential check."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from salesforce_support import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    NEW_ACCESS_TOKEN,
    ORG_ID,
    REFRESH_TOKEN,
    REVOKE_PATH,
    TOKEN_PATH,
    USER_ID,
    FakeSalesforce,
    Reply,
    Seen,
    connect,
)

from opencx_salesforce.errors import ConfigError
from opencx_salesforce.salesforce import (
    OAUTH_ERROR_HINTS,
    AuthorizationError,
    ConnectionState,
    CredentialCheckOutcome,
    OAuthClient,
    SecretBox,
    TokenManager,
    Unavailable,
    authorization_url,
    callback_error,
    hint_for,
)
from opencx_salesforce.store.memory import MemoryStore

SCOPES = ["full", "refresh_token", "offline_access"]


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_authorization_url_carries_pkce_s256() -> None:
    verifier = "v" * 43 + "-._~0123456789"
    url = authorization_url(
        "https://login.salesforce.com/",
        CLIENT_ID,
        "https://bot.example.com/integrations/salesforce/oauth/callback",
        SCOPES,
        "state-123",
        verifier,
    )
    assert url.startswith("https://login.salesforce.com/services/oauth2/authorize?")
    query = query_of(url)
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "https://bot.example.com/integrations/salesforce/oauth/callback"
    assert query["scope"] == "full refresh_token offline_access"
    assert query["state"] == "state-123"
    assert query["code_challenge"] == challenge_of(verifier)
    assert query["code_challenge_method"] == "S256"
    assert verifier not in url
    assert "prompt" not in query
    assert (
        query_of(
            authorization_url("https://x", "c", "https://r", SCOPES, "s", verifier, prompt="login")
        )["prompt"]
        == "login"
    )


def identity_route(fake: FakeSalesforce) -> str:
    path = f"/id/{ORG_ID}/{USER_ID}"
    fake.on(
        "GET",
        path,
        Reply(
            json={
                "id": f"{fake.url}{path}",
                "user_id": USER_ID,
                "organization_id": ORG_ID,
                "username": "admin@acme.example",
                "display_name": "Ada Admin",
                "email": "admin@acme.example",
            }
        ),
    )
    return path


async def test_connect_through_the_web_server_flow(
    tokens: TokenManager, fake: FakeSalesforce
) -> None:
    redirect = f"{fake.url}/integrations/salesforce/oauth/callback"
    url = await tokens.start_authorization(redirect, SCOPES)
    query = query_of(url)
    path = identity_route(fake)
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(
            json={
                **fake.token_answer(ACCESS_TOKEN),
                "refresh_token": REFRESH_TOKEN,
                "id": f"{fake.url}{path}",
                "scope": "full refresh_token offline_access",
            }
        ),
    )
    status = await tokens.complete_authorization("aPrxCODE", query["state"])

    form = fake.token_calls()[0].form()
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "aPrxCODE"
    assert form["redirect_uri"] == redirect
    assert form["client_id"] == CLIENT_ID and form["client_secret"] == CLIENT_SECRET
    assert challenge_of(form["code_verifier"]) == query["code_challenge"]
    assert fake.calls("GET", path)[0].bearer == ACCESS_TOKEN

    assert status.state is ConnectionState.CONNECTED
    assert (status.username, status.display_name) == ("admin@acme.example", "Ada Admin")
    assert (status.org_id, status.user_id, status.instance_url) == (ORG_ID, USER_ID, fake.url)
    assert (await tokens.access_token()).refresh_token == REFRESH_TOKEN

    # The state was good for one callback only.
    with pytest.raises(AuthorizationError) as caught:
        await tokens.complete_authorization("aPrxCODE", query["state"])
    assert caught.value.error == "invalid_state"
    assert len(fake.token_calls()) == 1


async def test_unknown_state_is_refused_without_a_token_request(
    tokens: TokenManager, fake: FakeSalesforce
) -> None:
    with pytest.raises(AuthorizationError, match="Click Connect again"):
        await tokens.complete_authorization("code", "forged-state")
    assert fake.token_calls() == []


async def test_identity_failure_still_connects_with_the_ids(
    tokens: TokenManager, fake: FakeSalesforce
) -> None:
    url = await tokens.start_authorization(f"{fake.url}/cb", SCOPES)
    fake.on("GET", f"/id/{ORG_ID}/{USER_ID}", Reply(503, body="down", content_type="text/plain"))
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(json={**fake.token_answer(), "id": f"{fake.url}/id/{ORG_ID}/{USER_ID}"}),
    )
    status = await tokens.complete_authorization("code", query_of(url)["state"])
    assert status.state is ConnectionState.CONNECTED
    assert (status.org_id, status.user_id) == (ORG_ID, USER_ID)


async def test_code_exchange_errors_carry_a_hint(
    tokens: TokenManager, fake: FakeSalesforce
) -> None:
    url = await tokens.start_authorization(f"{fake.url}/cb", SCOPES)
    fake.on(
        "POST",
        TOKEN_PATH,
        Reply(
            400,
            {
                "error": "redirect_uri_mismatch",
                "error_description": "redirect_uri must match configuration",
            },
        ),
    )
    with pytest.raises(AuthorizationError) as caught:
        await tokens.complete_authorization("code", query_of(url)["state"])
    assert caught.value.error == "redirect_uri_mismatch"
    assert "Callback URL" in caught.value.hint
    assert "redirect_uri must match configuration" in str(caught.value)
    assert (await tokens.status()).state is ConnectionState.CREDENTIALS_SAVED


async def test_connecting_needs_saved_credentials(
    store: MemoryStore, box: SecretBox, oauth: OAuthClient
) -> None:
    with pytest.raises(ConfigError, match="Client ID"):
        await TokenManager(store, box, oauth).start_authorization("https://x/cb", SCOPES)


async def test_client_credentials_connect(tokens: TokenManager, fake: FakeSalesforce) -> None:
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer()))
    status = await tokens.connect_client_credentials()
    assert status.state is ConnectionState.CONNECTED
    assert fake.token_calls()[0].form()["grant_type"] == "client_credentials"
    assert (await tokens.access_token()).access_token == NEW_ACCESS_TOKEN


# --- disconnect -----------------------------------------------------------------------


async def test_disconnect_revokes_the_refresh_token_and_forgets_it(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on("POST", REVOKE_PATH, Reply(200))
    assert await connected.disconnect() is True
    assert fake.calls("POST", REVOKE_PATH)[0].form() == {"token": REFRESH_TOKEN}
    assert (await connected.status()).state is ConnectionState.CREDENTIALS_SAVED


async def test_disconnect_when_salesforce_is_down_still_forgets(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on("POST", REVOKE_PATH, Reply(503))
    assert await connected.disconnect() is False
    assert (await connected.status()).state is ConnectionState.CREDENTIALS_SAVED


async def test_revoke_of_an_already_revoked_token_is_done(
    oauth: OAuthClient, fake: FakeSalesforce
) -> None:
    fake.on("POST", REVOKE_PATH, Reply(400, {"error": "invalid_token"}))
    await oauth.revoke(fake.url, "gone")
    fake.on("POST", "/other/services/oauth2/revoke", Reply(503))
    with pytest.raises(Unavailable):
        await oauth.revoke(fake.url + "/other", "x")


# --- hints ----------------------------------------------------------------------------


def test_every_documented_code_has_a_hint() -> None:
    documented = {
        "access_denied",
        "redirect_uri_mismatch",
        "invalid_client_id",
        "invalid_client",
        "invalid_client_credentials",
        "invalid_grant",
        "inactive_user",
        "inactive_org",
        "invalid_app_access",
        "unsupported_grant_type",
        "unsupported_response_type",
        "invalid_request",
        "invalid_scope",
        "immediate_unsuccessful",
        "rate_limit_exceeded",
        "invalid_token",
    }
    assert documented <= set(OAUTH_ERROR_HINTS)
    assert all(len(hint) > 20 for hint in OAUTH_ERROR_HINTS.values())


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("expired access/refresh token", "refresh token policy"),
        ("expired authorization code", "took too long"),
        ("invalid authorization code", "already used"),
        ("user hasn't approved this consumer", "pre-authorized"),
        ("ip restricted or invalid login hours", "IP"),
        ("something new", "Click Connect again"),
    ],
)
def test_invalid_grant_hints_follow_the_description(description: str, expected: str) -> None:
    assert expected in hint_for("invalid_grant", description)


def test_callback_error_accepts_salesforces_hyphenated_denial() -> None:
    error = callback_error("access-denied", "end-user denied authorization")
    assert error.error == "access_denied"
    assert "Allow" in error.hint
    assert not error.is_retryable


def test_unknown_code_still_gets_advice() -> None:
    assert "Connected App" in hint_for("brand_new_error")


# --- the credential check -------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "outcome", "words"),
    [
        (
            {"error": "invalid_grant", "error_description": "invalid authorization code"},
            CredentialCheckOutcome.OK,
            "right",
        ),
        (
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            CredentialCheckOutcome.WRONG_CLIENT_ID,
            "test.salesforce.com",
        ),
        (
            {"error": "invalid_client", "error_description": "invalid client credentials"},
            CredentialCheckOutcome.WRONG_SECRET,
            "Client Secret",
        ),
        (
            {"error": "invalid_client_credentials", "error_description": "client secret invalid"},
            CredentialCheckOutcome.WRONG_SECRET,
            "Client Secret",
        ),
        (
            {"error": "redirect_uri_mismatch", "error_description": "redirect_uri must match"},
            CredentialCheckOutcome.CALLBACK_MISMATCH,
            "https://bot.example.com/cb",
        ),
        (
            {"error": "inactive_org", "error_description": "org is locked"},
            CredentialCheckOutcome.UNEXPECTED,
            "locked",
        ),
    ],
)
async def test_check_client_credentials_reads_the_error(
    oauth: OAuthClient,
    fake: FakeSalesforce,
    answer: dict[str, str],
    outcome: CredentialCheckOutcome,
    words: str,
) -> None:
    fake.on("POST", TOKEN_PATH, Reply(400, answer))
    check = await oauth.check_client_credentials(
        fake.url, CLIENT_ID, CLIENT_SECRET, "https://bot.example.com/cb"
    )
    assert check.outcome is outcome
    assert check.ok is (outcome is CredentialCheckOutcome.OK)
    assert words in check.message
    assert check.error == answer["error"]
    assert CLIENT_SECRET not in check.message
    form = fake.token_calls()[0].form()
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == CLIENT_ID and form["client_secret"] == CLIENT_SECRET
    assert form["redirect_uri"] == "https://bot.example.com/cb"
    assert form["code"]  # a made-up code


async def test_check_client_credentials_when_the_url_is_wrong(
    oauth: OAuthClient, fake: FakeSalesforce, unused_tcp_port: int
) -> None:
    nowhere = await oauth.check_client_credentials(
        f"http://127.0.0.1:{unused_tcp_port}", CLIENT_ID, CLIENT_SECRET, "https://x/cb"
    )
    assert nowhere.outcome is CredentialCheckOutcome.UNREACHABLE

    def not_salesforce(seen: Seen) -> Reply:
        return Reply(404, body="<html>Not Found</html>", content_type="text/html")

    fake.on("POST", TOKEN_PATH, not_salesforce)
    odd = await oauth.check_client_credentials(fake.url, CLIENT_ID, CLIENT_SECRET, "https://x/cb")
    assert odd.outcome is CredentialCheckOutcome.UNEXPECTED
    assert "did not answer like a Salesforce token endpoint" in odd.message


async def test_a_token_answer_without_a_token_names_no_secret(
    tokens: TokenManager, fake: FakeSalesforce
) -> None:
    await connect(tokens, fake.url)
    fake.on("POST", TOKEN_PATH, Reply(json={"refresh_token": "5Aep-LEAKY", "instance_url": "x"}))
    with pytest.raises(Exception) as caught:
        await tokens.refresh(ACCESS_TOKEN)
    assert "5Aep-LEAKY" not in str(caught.value)
    assert "access_token" in str(caught.value)
