"""The status/code -> error table, on its own."""

from __future__ import annotations

import email.utils
import time

import pytest

from opencx_salesforce.errors import OpenCXSalesforceError
from opencx_salesforce.salesforce.error_bodies import parse_retry_after
from opencx_salesforce.salesforce.errors import (
    ApiError,
    AuthorizationError,
    Forbidden,
    MultipleMatches,
    NeedsReauthorization,
    NotFound,
    RequestLimitExceeded,
    RowLocked,
    SalesforceError,
    ServerError,
    SessionExpired,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    error_for_response,
)

URL = "https://acme.my.example.test/services/data/v62.0/sobjects/Case"


def err(code: str, message: str = "m") -> list[dict[str, object]]:
    return [{"message": message, "errorCode": code}]


@pytest.mark.parametrize(
    ("status", "body", "cls", "retryable"),
    [
        (300, ["/services/data/v62.0/sobjects/Case/500A", "/…/500B"], MultipleMatches, False),
        (400, err("REQUIRED_FIELD_MISSING"), ValidationFailed, False),
        (400, err("UNABLE_TO_LOCK_ROW"), RowLocked, True),
        (401, err("INVALID_SESSION_ID", "Session expired or invalid"), SessionExpired, True),
        (401, err("INVALID_AUTH_HEADER"), Unauthorized, False),
        (
            403,
            err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            RequestLimitExceeded,
            True,
        ),
        (403, err("INSUFFICIENT_ACCESS"), Forbidden, False),
        (404, err("NOT_FOUND", "The requested resource does not exist"), NotFound, False),
        (409, err("CONFLICT"), ApiError, False),
        (410, err("GONE"), NotFound, False),
        (500, err("UNKNOWN_EXCEPTION"), ServerError, True),
        (502, "<html>Bad gateway</html>", ServerError, True),
        (503, "", Unavailable, True),
        (504, None, ServerError, True),
    ],
)
def test_each_status_maps_to_its_class(
    status: int, body: object, cls: type[ApiError], retryable: bool
) -> None:
    error = error_for_response(url=URL, status=status, body=body)
    assert type(error) is cls
    assert error.status == status
    assert error.url == URL
    assert error.is_retryable is retryable
    assert isinstance(error, SalesforceError)
    assert isinstance(error, OpenCXSalesforceError)


def test_validation_error_keeps_every_entry() -> None:
    body = [
        {
            "message": "Required fields are missing: [Subject]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["Subject"],
        },
        {
            "message": "Subject: data value too large",
            "errorCode": "STRING_TOO_LONG",
            "fields": ["Subject"],
        },
    ]
    error = error_for_response(url=URL, status=400, body=body)
    assert isinstance(error, ValidationFailed)
    assert error.error_code == "REQUIRED_FIELD_MISSING"
    assert [e.error_code for e in error.errors] == ["REQUIRED_FIELD_MISSING", "STRING_TOO_LONG"]
    assert error.errors[0].fields == ("Subject",)
    assert "Required fields are missing" in str(error)
    assert "data value too large" in str(error)
    assert error.body == body


def test_request_limit_is_a_quota_problem_with_a_long_wait() -> None:
    daily = error_for_response(
        url=URL, status=403, body=err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    )
    concurrent = error_for_response(
        url=URL,
        status=403,
        body=err("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
    )
    assert not isinstance(daily, Unauthorized | Forbidden)
    assert daily.retry_after == RequestLimitExceeded.DAILY_QUOTA_WAIT
    assert concurrent.retry_after == RequestLimitExceeded.CONCURRENCY_WAIT


def test_unavailable_reads_retry_after_seconds_and_dates() -> None:
    seconds = error_for_response(url=URL, status=503, body="", headers={"Retry-After": "120"})
    assert seconds.retry_after == 120.0
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    dated = error_for_response(url=URL, status=503, body="", headers={"Retry-After": later})
    assert dated.retry_after is not None and 55 <= dated.retry_after <= 61
    plain = error_for_response(url=URL, status=503, body="")
    assert plain.retry_after is None


def test_parse_retry_after_ignores_garbage() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0


def test_html_maintenance_page_gives_status_and_a_snippet() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>Down</title><style>body{color:red}</style></head>"
        "<body><h1>Salesforce is down for maintenance</h1><p>Back soon.</p></body></html>"
    )
    error = error_for_response(url=URL, status=503, body=page)
    assert isinstance(error, Unavailable)
    assert "HTTP 503" in str(error)
    assert "Salesforce is down for maintenance" in str(error)
    assert "<h1>" not in error.message and "color:red" not in error.message
    assert error.body == page


def test_long_html_snippet_is_cut() -> None:
    error = error_for_response(url=URL, status=500, body="<p>" + "x" * 5000 + "</p>")
    assert len(error.message) < 400


def test_transport_and_reauthorization_are_retryable() -> None:
    assert TransportError("reset", url=URL).is_retryable
    needs = NeedsReauthorization("expired access/refresh token")
    assert needs.is_retryable and needs.retry_after == 60.0
    assert needs.reason == "expired access/refresh token"
    assert "connected again" in str(needs)


def test_authorization_error_retryable_only_when_transient() -> None:
    assert not AuthorizationError("invalid_grant", "expired access/refresh token").is_retryable
    assert AuthorizationError("rate_limit_exceeded").is_retryable
    error = AuthorizationError("invalid_client_id", "client identifier invalid", hint="Fix it.")
    assert error.error == "invalid_client_id" and error.error_code == "invalid_client_id"
    assert "client identifier invalid. Fix it." in str(error)


def test_row_locked_waits_a_moment() -> None:
    error = error_for_response(url=URL, status=400, body=err("UNABLE_TO_LOCK_ROW"))
    assert error.retry_after == 1.0
