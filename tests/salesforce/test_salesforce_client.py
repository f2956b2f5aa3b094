"""The REST funnel over real HTTP against a scripted org: error mapping for every
status, refresh-once on an expired session, API usage, paging, describe caching
and the composite helpers."""

from __future__ import annotations

import aiohttp
import pytest
from salesforce_support import (
    ACCESS_TOKEN,
    API_PATH,
    NEW_ACCESS_TOKEN,
    REFRESH_TOKEN,
    SESSION_EXPIRED,
    TOKEN_PATH,
    FakeSalesforce,
    Reply,
    Seen,
)

from opencx_salesforce.salesforce import (
    Forbidden,
    Graph,
    MultipleMatches,
    NeedsReauthorization,
    NotFound,
    RequestLimitExceeded,
    SalesforceClient,
    SalesforceError,
    ServerError,
    SessionExpired,
    Subrequest,
    TokenManager,
    TransportError,
    Unavailable,
    ValidationFailed,
    parse_limit_info,
)

CASE = f"{API_PATH}/sobjects/Case/500A"


# --- error mapping through the funnel -------------------------------------------------


async def test_success_sends_the_bearer_token_and_counts_the_call(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on("GET", CASE, Reply(json={"Id": "500A", "Subject": "Help"}))
    record = await client.get("Case", "500A", fields=["Id", "Subject"])
    assert record["Subject"] == "Help"
    seen = fake.calls("GET", CASE)[0]
    assert seen.bearer == ACCESS_TOKEN
    assert seen.query["fields"] == "Id,Subject"
    assert client.calls == 1


async def test_400_with_error_list(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "POST",
        f"{API_PATH}/sobjects/Case",
        Reply(
            400,
            [
                {
                    "message": "Subject: data value too large: xxx (max length=255)",
                    "errorCode": "STRING_TOO_LONG",
                    "fields": ["Subject"],
                }
            ],
        ),
    )
    with pytest.raises(ValidationFailed) as caught:
        await client.create("Case", {"Subject": "x" * 300})
    assert caught.value.errors[0].fields == ("Subject",)
    assert caught.value.error_code == "STRING_TOO_LONG"
    assert not caught.value.is_retryable


async def test_401_refreshes_once_then_succeeds(
    client: SalesforceClient, connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on(
        "GET",
        CASE,
        Reply(401, SESSION_EXPIRED, headers={"WWW-Authenticate": "Token"}),
        Reply(json={"Id": "500A"}),
    )
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer()))
    assert (await client.get("Case", "500A"))["Id"] == "500A"
    first, second = fake.calls("GET", CASE)
    assert first.bearer == ACCESS_TOKEN
    assert second.bearer == NEW_ACCESS_TOKEN
    form = fake.token_calls()[0].form()
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == REFRESH_TOKEN
    assert client.calls == 2
    # Stored: the next call uses the new token without another refresh.
    assert (await connected.access_token()).access_token == NEW_ACCESS_TOKEN


async def test_401_twice_gives_up_after_one_refresh(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on("GET", CASE, Reply(401, SESSION_EXPIRED))
    fake.on("POST", TOKEN_PATH, Reply(json=fake.token_answer()))
    with pytest.raises(SessionExpired):
        await client.get("Case", "500A")
    assert len(fake.token_calls()) == 1
    assert len(fake.calls("GET", CASE)) == 2


async def test_403_request_limit_is_a_quota_problem_not_an_auth_one(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on(
        "GET",
        CASE,
        Reply(
            403,
            [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        ),
    )
    with pytest.raises(RequestLimitExceeded) as caught:
        await client.get("Case", "500A")
    assert caught.value.is_retryable
    assert caught.value.retry_after == RequestLimitExceeded.DAILY_QUOTA_WAIT
    assert fake.token_calls() == []  # the token is fine: no refresh


async def test_403_permission(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "GET",
        CASE,
        Reply(403, [{"message": "insufficient access", "errorCode": "INSUFFICIENT_ACCESS"}]),
    )
    with pytest.raises(Forbidden) as caught:
        await client.get("Case", "500A")
    assert not caught.value.is_retryable


async def test_404(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "GET",
        CASE,
        Reply(
            404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
        ),
    )
    with pytest.raises(NotFound) as caught:
        await client.get("Case", "500A")
    assert not caught.value.is_retryable
    assert "/sobjects/Case/500A" in str(caught.value)
    assert "The requested resource does not exist" in str(caught.value)


async def test_300_several_matches(client: SalesforceClient, fake: FakeSalesforce) -> None:
    path = f"{API_PATH}/sobjects/Case/OpenCX_Session_Id__c/s1"
    fake.on(
        "PATCH",
        path,
        Reply(300, [f"{API_PATH}/sobjects/Case/500A", f"{API_PATH}/sobjects/Case/500B"]),
    )
    with pytest.raises(MultipleMatches):
        await client.upsert("Case", "OpenCX_Session_Id__c", "s1", {"Subject": "x"})


async def test_500(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "GET",
        CASE,
        Reply(500, [{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}]),
    )
    with pytest.raises(ServerError) as caught:
        await client.get("Case", "500A")
    assert caught.value.is_retryable


async def test_503_with_retry_after(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on("GET", CASE, Reply(503, headers={"Retry-After": "90"}))
    with pytest.raises(Unavailable) as caught:
        await client.get("Case", "500A")
    assert caught.value.retry_after == 90.0
    assert caught.value.is_retryable


async def test_html_maintenance_page(client: SalesforceClient, fake: FakeSalesforce) -> None:
    page = "<html><head><title>x</title></head><body><h1>Maintenance in progress</h1></body></html>"
    fake.on("GET", CASE, Reply(503, body=page, content_type="text/html"))
    with pytest.raises(Unavailable) as caught:
        await client.get("Case", "500A")
    assert "HTTP 503" in str(caught.value)
    assert "Maintenance in progress" in str(caught.value)
    assert caught.value.body == page


async def test_html_on_a_200_is_reported_not_crashed_on(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on(
        "GET",
        f"{API_PATH}/limits",
        Reply(body="<html>proxy login</html>", content_type="text/html"),
    )
    with pytest.raises(SalesforceError, match="expected a JSON object"):
        await client.limits()


async def test_connection_reset_is_a_transport_error(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on("POST", f"{API_PATH}/sobjects/Case", Reply(reset=True))
    with pytest.raises(TransportError) as caught:
        await client.create("Case", {"Subject": "x"})
    assert caught.value.status is None
    assert caught.value.is_retryable
    assert "could not reach Salesforce" in str(caught.value)


async def test_unreachable_host_is_a_transport_error(
    connected: TokenManager, session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    class Nowhere:
        access_token = ACCESS_TOKEN
        instance_url = f"http://127.0.0.1:{unused_tcp_port}"

    class Source:
        async def access_token(self) -> Nowhere:
            return Nowhere()

        async def refresh(self, stale_token: str | None = None) -> Nowhere:
            return Nowhere()

    client = SalesforceClient(Source(), session=session, timeout=2.0)
    with pytest.raises(TransportError, match="could not reach"):
        await client.limits()


async def test_timeout_is_a_transport_error(
    connected: TokenManager, session: aiohttp.ClientSession, fake: FakeSalesforce
) -> None:
    fake.on("GET", f"{API_PATH}/limits", Reply(json={}, delay=2.0))
    client = SalesforceClient(connected, session=session, timeout=0.2)
    with pytest.raises(TransportError, match=r"no answer from Salesforce within 0\.2 s"):
        await client.limits()


async def test_not_connected_spends_no_call(
    tokens: TokenManager, session: aiohttp.ClientSession, fake: FakeSalesforce
) -> None:
    client = SalesforceClient(tokens, session=session)
    with pytest.raises(NeedsReauthorization):
        await client.get("Case", "500A")
    assert client.calls == 0
    assert fake.seen == []


async def test_the_token_is_never_sent_to_another_host(client: SalesforceClient) -> None:
    with pytest.raises(ValueError, match="refusing"):
        await client.request("GET", "https://evil.example/services/data/v62.0/limits")


async def test_own_session_is_opened_and_closed(
    connected: TokenManager, fake: FakeSalesforce
) -> None:
    fake.on(
        "GET", f"{API_PATH}/limits", Reply(json={"DailyApiRequests": {"Max": 1, "Remaining": 1}})
    )
    async with SalesforceClient(connected) as own:
        assert (await own.limits())["DailyApiRequests"]["Max"] == 1


# --- API usage ------------------------------------------------------------------------


def test_parse_limit_info_variants() -> None:
    usage = parse_limit_info("api-usage=18/5000")
    assert usage is not None and (usage.used, usage.limit) == (18, 5000)
    bursts = parse_limit_info("api-usage=10018/100000; api-bursts=1/750")
    assert bursts is not None and bursts.remaining == 89982
    # A per-app figure is not the org's.
    assert parse_limit_info("per-app-api-usage=17/250(appName=sample-connected-app)") is None
    both = parse_limit_info("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-app)")
    assert both is not None and (both.used, both.limit) == (25, 5000)
    assert parse_limit_info(None) is None
    assert parse_limit_info("nonsense") is None


async def test_usage_is_read_from_every_answer(
    client: SalesforceClient, fake: FakeSalesforce, caplog: pytest.LogCaptureFixture
) -> None:
    fake.on(
        "GET",
        CASE,
        Reply(json={}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}),
        Reply(json={}, headers={"Sforce-Limit-Info": "api-usage=4600/5000"}),
    )
    await client.get("Case", "500A")
    assert client.usage is not None and client.usage.used == 18
    with caplog.at_level("WARNING"):
        await client.get("Case", "500A")
        await client.get("Case", "500A")
    assert client.usage is not None and client.usage.remaining == 400
    assert caplog.text.count("4600 of its 5000") == 1  # warned once, on crossing


async def test_usage_is_read_from_error_answers_too(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on(
        "GET",
        CASE,
        Reply(
            403,
            [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
            headers={"Sforce-Limit-Info": "api-usage=5001/5000"},
        ),
    )
    with pytest.raises(RequestLimitExceeded):
        await client.get("Case", "500A")
    assert client.usage is not None and client.usage.remaining == 0


# --- queries --------------------------------------------------------------------------


async def test_query_all_pages_follows_next_records_url(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on(
        "GET",
        f"{API_PATH}/query",
        Reply(
            json={
                "totalSize": 5,
                "done": False,
                "nextRecordsUrl": f"{API_PATH}/query/01gRO0000016PIAYA2-2",
                "records": [{"Id": "1"}, {"Id": "2"}],
            }
        ),
    )
    fake.on(
        "GET",
        f"{API_PATH}/query/01gRO0000016PIAYA2-2",
        Reply(
            json={
                "totalSize": 5,
                "done": False,
                "nextRecordsUrl": f"{API_PATH}/query/01gRO0000016PIAYA2-4",
                "records": [{"Id": "3"}, {"Id": "4"}],
            }
        ),
    )
    fake.on(
        "GET",
        f"{API_PATH}/query/01gRO0000016PIAYA2-4",
        Reply(json={"totalSize": 5, "done": True, "records": [{"Id": "5"}]}),
    )
    records = await client.query_records("SELECT Id FROM Case WHERE Subject = 'a b'")
    assert [r["Id"] for r in records] == ["1", "2", "3", "4", "5"]
    assert fake.calls("GET", f"{API_PATH}/query")[0].query["q"] == (
        "SELECT Id FROM Case WHERE Subject = 'a b'"
    )
    assert client.calls == 3


async def test_query_all_includes_deleted(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "GET", f"{API_PATH}/queryAll", Reply(json={"totalSize": 0, "done": True, "records": []})
    )
    page = await client.query("SELECT Id FROM Case", include_deleted=True)
    assert page["done"] is True


async def test_tooling_query_and_execute_anonymous(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on(
        "GET",
        f"{API_PATH}/tooling/query",
        Reply(json={"totalSize": 1, "done": True, "records": [{"Name": "OpenCXCaseTrigger"}]}),
    )
    fake.on(
        "GET",
        f"{API_PATH}/tooling/executeAnonymous",
        Reply(json={"compiled": True, "success": False, "exceptionMessage": "boom", "line": 1}),
    )
    page = await client.tooling_query("SELECT Name FROM ApexTrigger")
    assert page["records"][0]["Name"] == "OpenCXCaseTrigger"
    result = await client.execute_anonymous("System.debug('hi');")
    assert result["success"] is False and result["exceptionMessage"] == "boom"
    sent = fake.calls("GET", f"{API_PATH}/tooling/executeAnonymous")[0]
    assert sent.query["anonymousBody"] == "System.debug('hi');"


# --- describe cache -------------------------------------------------------------------


async def test_describe_sends_if_modified_since_and_uses_the_cache_on_304(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    path = f"{API_PATH}/sobjects/Case/describe"
    fake.on(
        "GET",
        path,
        Reply(
            json={"name": "Case", "fields": [{"name": "Subject"}]},
            headers={"Last-Modified": "Tue, 25 Nov 2025 01:00:00 GMT"},
        ),
        Reply(304),
    )
    first = await client.describe("Case")
    second = await client.describe("Case")
    assert second == first and second["fields"][0]["name"] == "Subject"
    sent = fake.calls("GET", path)
    assert "If-Modified-Since" not in sent[0].headers
    assert sent[1].headers["If-Modified-Since"] == "Tue, 25 Nov 2025 01:00:00 GMT"


async def test_describe_replaces_the_cache_on_200(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    path = f"{API_PATH}/sobjects/Case/describe"
    fake.on(
        "GET",
        path,
        Reply(json={"name": "Case", "fields": []}),
        Reply(json={"name": "Case", "fields": [{"name": "New__c"}]}),
        Reply(304),
    )
    await client.describe("Case")
    assert (await client.describe("Case"))["fields"] == [{"name": "New__c"}]
    assert (await client.describe("Case"))["fields"] == [{"name": "New__c"}]


# --- single records, composite, collections -------------------------------------------


async def test_upsert_created_updated_and_old_204(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    path = f"{API_PATH}/sobjects/Case/OpenCX_Session_Id__c/sess%2F1"
    fake.on(
        "PATCH",
        path,
        Reply(201, {"id": "500A", "success": True, "errors": [], "created": True}),
        Reply(200, {"id": "500A", "success": True, "errors": [], "created": False}),
        Reply(204),
    )
    first = await client.upsert("Case", "OpenCX_Session_Id__c", "sess/1", {"Subject": "x"})
    second = await client.upsert("Case", "OpenCX_Session_Id__c", "sess/1", {"Subject": "y"})
    third = await client.upsert("Case", "OpenCX_Session_Id__c", "sess/1", {"Subject": "z"})
    assert (first.id, first.created) == ("500A", True)
    assert (second.id, second.created) == ("500A", False)
    assert (third.id, third.created) == (None, False)
    assert fake.calls("PATCH", path)[0].json() == {"Subject": "x"}


async def test_create_and_update(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "POST",
        f"{API_PATH}/sobjects/Case",
        Reply(201, {"id": "500B", "success": True, "errors": []}),
    )
    fake.on("PATCH", CASE, Reply(204))
    assert await client.create("Case", {"Subject": "ü"}) == "500B"
    await client.update("Case", "500A", {"Status": "Closed"})
    assert fake.calls("POST", f"{API_PATH}/sobjects/Case")[0].json() == {"Subject": "ü"}
    assert fake.calls("PATCH", CASE)[0].json() == {"Status": "Closed"}


async def test_composite_body_and_per_subrequest_errors(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    fake.on(
        "POST",
        f"{API_PATH}/composite",
        Reply(
            json={
                "compositeResponse": [
                    {
                        "body": {"id": "500A", "success": True, "errors": []},
                        "httpHeaders": {"Location": f"{API_PATH}/sobjects/Case/500A"},
                        "httpStatusCode": 201,
                        "referenceId": "newCase",
                    },
                    {
                        "body": [
                            {
                                "message": "unable to obtain exclusive access to this record",
                                "errorCode": "UNABLE_TO_LOCK_ROW",
                            }
                        ],
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": "comment1",
                    },
                ]
            }
        ),
    )
    results = await client.composite(
        [
            Subrequest("POST", "sobjects/Case", "newCase", {"Subject": "x"}),
            Subrequest(
                "POST",
                "sobjects/CaseComment",
                "comment1",
                {"ParentId": "@{newCase.id}", "CommentBody": "hi"},
            ),
        ],
        all_or_none=True,
    )
    body = fake.calls("POST", f"{API_PATH}/composite")[0].json()
    assert body["allOrNone"] is True
    assert body["compositeRequest"][0]["url"] == f"{API_PATH}/sobjects/Case"
    assert body["compositeRequest"][1]["body"]["ParentId"] == "@{newCase.id}"
    assert results[0].ok and results[0].body["id"] == "500A"
    assert results[0].error() is None
    error = results[1].error()
    assert error is not None and error.is_retryable and error.error_code == "UNABLE_TO_LOCK_ROW"
    assert client.calls == 1


async def test_composite_refuses_what_salesforce_would_refuse(
    client: SalesforceClient, fake: FakeSalesforce
) -> None:
    with pytest.raises(ValueError, match="at most 25"):
        await client.composite([Subrequest("GET", "limits", f"r{i}") for i in range(26)])
    with pytest.raises(ValueError, match="referenceId"):
        await client.composite([Subrequest("GET", "limits", "_bad")])
    with pytest.raises(ValueError, match="used twice"):
        await client.composite([Subrequest("GET", "limits", "a"), Subrequest("GET", "limits", "a")])
    with pytest.raises(ValueError, match="Authorization"):
        await client.composite(
            [Subrequest("GET", "limits", "a", http_headers={"Authorization": "x"})]
        )
    assert client.calls == 0 and fake.seen == []


async def test_composite_graph(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "POST",
        f"{API_PATH}/composite/graph",
        Reply(
            json={
                "graphs": [
                    {
                        "graphId": "g1",
                        "isSuccessful": True,
                        "graphResponse": {
                            "compositeResponse": [
                                {
                                    "body": {"id": "500A", "success": True, "errors": []},
                                    "httpHeaders": {},
                                    "httpStatusCode": 201,
                                    "referenceId": "case",
                                }
                            ]
                        },
                    }
                ]
            }
        ),
    )
    results = await client.composite_graph(
        [Graph("g1", [Subrequest("POST", "sobjects/Case", "case", {"Subject": "x"})])]
    )
    assert results[0].is_successful and results[0].responses[0].body["id"] == "500A"
    sent = fake.calls("POST", f"{API_PATH}/composite/graph")[0].json()
    assert sent["graphs"][0]["graphId"] == "g1"
    many = [Graph(f"g{i}", [Subrequest("GET", "limits", "a")]) for i in range(76)]
    with pytest.raises(ValueError, match="75 graphs"):
        await client.composite_graph(many)
    big = [Graph("g", [Subrequest("GET", "limits", f"n{i}") for i in range(501)])]
    with pytest.raises(ValueError, match="500 nodes"):
        await client.composite_graph(big)


async def test_collections_create(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "POST",
        f"{API_PATH}/composite/sobjects",
        Reply(
            json=[
                {"id": "00aA", "success": True, "errors": []},
                {
                    "success": False,
                    "errors": [
                        {
                            "statusCode": "STRING_TOO_LONG",
                            "message": "too long",
                            "fields": ["CommentBody"],
                        }
                    ],
                },
            ]
        ),
    )
    results = await client.collections_create(
        [
            {"attributes": {"type": "CaseComment"}, "ParentId": "500A", "CommentBody": "a"},
            {"attributes": {"type": "CaseComment"}, "ParentId": "500A", "CommentBody": "b"},
        ]
    )
    assert results[0].success and results[0].id == "00aA"
    assert results[1].errors[0].error_code == "STRING_TOO_LONG"
    sent = fake.calls("POST", f"{API_PATH}/composite/sobjects")[0].json()
    assert sent["allOrNone"] is False and len(sent["records"]) == 2
    with pytest.raises(ValueError, match="200"):
        await client.collections_create([{"attributes": {"type": "Case"}}] * 201)
    with pytest.raises(ValueError, match=r"attributes\.type"):
        await client.collections_create([{"Subject": "x"}])


async def test_limits(client: SalesforceClient, fake: FakeSalesforce) -> None:
    fake.on(
        "GET",
        f"{API_PATH}/limits",
        Reply(json={"DailyApiRequests": {"Max": 15000, "Remaining": 14980}}),
    )
    limits = await client.limits()
    assert limits["DailyApiRequests"]["Remaining"] == 14980


async def test_handler_sees_what_was_sent(client: SalesforceClient, fake: FakeSalesforce) -> None:
    def echo(seen: Seen) -> Reply:
        return Reply(201, {"id": "500C", "echo": seen.json()})

    fake.on("POST", f"{API_PATH}/sobjects/Case", echo)
    assert await client.create("Case", {"Subject": "x"}) == "500C"
    assert (
        fake.calls("POST", f"{API_PATH}/sobjects/Case")[0].headers["Accept"] == "application/json"
    )
