"""Errors from talking to Salesforce, in one place.

::

    SalesforceError                  url, status, error_code, message, body,
    │                                is_retryable, retry_after
    ├── TransportError               could not reach Salesforce, or lost it mid-answer:
    │                                DNS, refused, reset, timeout (status is None).
    │                                A write may or may not have been applied.
    ├── ApiError                     Salesforce answered with an error status
    │   ├── MultipleMatches          300: an external id matched several records
    │   ├── ValidationFailed         400: the request or a record is wrong; ``errors``
    │   │                            lists each {message, errorCode, fields}
    │   ├── RowLocked                UNABLE_TO_LOCK_ROW: another transaction holds
    │   │                            the record; retry shortly
    │   ├── Unauthorized             401 (e.g. INVALID_AUTH_HEADER)
    │   │   └── SessionExpired       401 INVALID_SESSION_ID: the access token expired
    │   ├── Forbidden                403: the user lacks a permission
    │   ├── RequestLimitExceeded     403 REQUEST_LIMIT_EXCEEDED: the org's API quota is
    │   │                            spent (a quota problem, not an auth problem)
    │   ├── NotFound                 404 (also 410)
    │   ├── GraphHalted              a composite graph not run because more than 14
    │   │                            other graphs of its request failed; retry
    │   ├── ServerError              500, 502, 504
    │   ├── Unavailable              503 (or 429 from a proxy); ``retry_after``
    │   └── AuthorizationError       the OAuth endpoints said no; ``error`` is the
    │                                OAuth code (invalid_grant, invalid_client_id, …)
    ├── NeedsReauthorization         the stored grant is gone (revoked, expired, never
    │   │                            made): an admin must click Connect. Work waits.
    │   └── NotConnectedYet          never connected (a fresh install): the same wait,
    │                                but expected, so nothing warns about it
    ├── UntrustedURL                 the token endpoint named an instance or identity
    │                                URL the plugin will not send its token to
    └── RefreshTimedOut              another host instance held the token-refresh lock
                                     for too long; try again shortly

``is_retryable`` answers one question for the outbox: can the same request succeed
later without anyone changing anything? ``retry_after`` (seconds) is the least
wait that makes sense, when Salesforce or the platform says so.

No message here ever contains a token or a client secret: messages are built
from the URL, the status and Salesforce's own error text, never from request
headers or request bodies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from opencx_salesforce.errors import OpenCXSalesforceError
from opencx_salesforce.salesforce.error_bodies import (
    ErrorDetail as ErrorDetail,  # re-exported: the type of ApiError.errors
)
from opencx_salesforce.salesforce.error_bodies import (
    error_details,
    parse_retry_after,
    snippet,
)


class SalesforceError(OpenCXSalesforceError):
    """Base of every error from talking to Salesforce.

    ``url`` is the request URL, ``status`` the HTTP status (``None`` when nothing
    came back), ``error_code`` Salesforce's code (``INVALID_SESSION_ID``,
    ``invalid_grant``…), ``message`` its text, ``body`` the parsed JSON body or
    the raw text when it was not JSON.
    """

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        error_code: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.url = url
        self.status = status
        self.error_code = error_code
        self.message = message
        self.body = body
        self._retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.error_code:
            parts.append(self.error_code)
        head = " ".join(parts)
        where = f" ({self.url})" if self.url else ""
        return f"{head}: {self.message}{where}" if head else f"{self.message}{where}"

    @property
    def is_retryable(self) -> bool:
        return self.default_retryable

    @property
    def retry_after(self) -> float | None:
        return self._retry_after


class UntrustedURL(SalesforceError):
    """The token endpoint answered with an ``instance_url`` or ``id`` outside the
    login URL's origin and Salesforce's https domains (:mod:`.hosts`). Not
    retryable: the same answer would come back; the Login URL needs a look."""


class TransportError(SalesforceError):
    """Salesforce could not be reached, or the connection broke before a full
    answer arrived (DNS, refused, reset, TLS, timeout). Retryable. For a write,
    the request may have been applied: callers make writes idempotent (external
    ids) rather than guess."""

    default_retryable = True


class RefreshTimedOut(SalesforceError):
    """Another host instance held the token-refresh lock and did not finish in
    time. Retryable: the lock expires, and then someone refreshes."""

    default_retryable = True


class NeedsReauthorization(SalesforceError):
    """There is no usable grant: never connected, or the refresh token was
    revoked or expired, or the Connected App refuses this client. Nothing but an
    admin clicking Connect (or fixing the Connected App) helps.

    Retryable on purpose: queued work waits for the admin instead of being
    dropped. ``reason`` says what happened, for the settings page."""

    default_retryable = True

    def __init__(self, reason: str, *, retry_after: float = 60.0) -> None:
        self.reason = reason
        super().__init__(
            f"Salesforce needs to be connected again: {reason}", retry_after=retry_after
        )


class NotConnectedYet(NeedsReauthorization):
    """No admin has clicked Connect yet. Queued work waits as for
    :class:`NeedsReauthorization`, but a fresh install is not broken: the sweep
    stays quiet and the settings page says "not connected yet"."""

    def __init__(self, reason: str, *, retry_after: float = 60.0) -> None:
        self.reason = reason
        SalesforceError.__init__(self, reason, retry_after=retry_after)


class ApiError(SalesforceError):
    """Salesforce answered with an error status. ``errors`` holds the parsed
    error list (empty when the body was not one)."""

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        error_code: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
        errors: Sequence[ErrorDetail] = (),
    ) -> None:
        self.errors = tuple(errors)
        super().__init__(
            message,
            url=url,
            status=status,
            error_code=error_code,
            body=body,
            retry_after=retry_after,
        )


class MultipleMatches(ApiError):
    """300: an upsert's external id matched more than one record; nothing was
    written. [src: api_rest dome_upsert.htm]"""


class ValidationFailed(ApiError):
    """400: the request is malformed or a record breaks a rule (required field,
    too long, bad Id, unknown field, bad SOQL). Retrying the same request cannot
    help."""


class RowLocked(ApiError):
    """UNABLE_TO_LOCK_ROW: another transaction holds the record. It clears in
    moments; retry. [src: SALESFORCE.md §2 message formats]"""

    default_retryable = True

    @property
    def retry_after(self) -> float | None:
        return self._retry_after if self._retry_after is not None else 1.0


class Unauthorized(ApiError):
    """401 other than an expired session (INVALID_AUTH_HEADER, say)."""


class SessionExpired(Unauthorized):
    """401 INVALID_SESSION_ID: the access token expired or was revoked. The
    client refreshes once and retries. [src: api_rest intro_understanding_refresh_token_oauth.htm;
    api_meta meta_error_handling_session_exp.htm]"""

    default_retryable = True


class Forbidden(ApiError):
    """403: the connected user lacks a permission for this request."""


class RequestLimitExceeded(ApiError):
    """403 REQUEST_LIMIT_EXCEEDED: the org has spent its API quota (a rolling 24
    hours), or too many long requests run at once. A quota problem, not an auth
    problem: waiting helps, reconnecting does not. [src: api_rest errorcodes.htm]"""

    default_retryable = True
    # The daily quota is a rolling 24-hour window: capacity comes back gradually,
    # so waiting minutes (not milliseconds) before the next attempt saves calls.
    DAILY_QUOTA_WAIT = 300.0
    # "ConcurrentPerOrgLongTxn Limit exceeded." clears when long requests finish.
    CONCURRENCY_WAIT = 10.0

    @property
    def concurrency(self) -> bool:
        """Too many long requests at once, not the daily quota: it clears as
        they finish."""
        return "Concurrent" in self.message

    @property
    def retry_after(self) -> float | None:
        if self._retry_after is not None:
            return self._retry_after
        if self.concurrency:
            return self.CONCURRENCY_WAIT
        return self.DAILY_QUOTA_WAIT


class GraphHalted(ApiError):
    """A graph of a composite graph request that never ran: once more than 14
    graphs of a request fail, Salesforce halts the rest (PROCESSING_HALTED).
    Nothing of it was written, and nothing is wrong with it: retry.
    [src: api_rest resources_composite_graph_limits.htm "Maximum number of graph
    failures within one request"]"""

    default_retryable = True


class NotFound(ApiError):
    """404 (or 410): no such record, object, field or resource, or the user
    cannot see it."""


class ServerError(ApiError):
    """500, 502, 504: Salesforce failed. Retryable."""

    default_retryable = True


class Unavailable(ApiError):
    """503 (and 429 should a proxy send one): Salesforce is down for maintenance
    or overloaded. ``retry_after`` comes from the Retry-After header when sent."""

    default_retryable = True


class AuthorizationError(ApiError):
    """An OAuth endpoint (token, revoke, userinfo, identity) said no.

    ``error`` is the OAuth error code (``invalid_grant``, ``invalid_client_id``,
    ``redirect_uri_mismatch``…), ``description`` Salesforce's
    ``error_description``, ``hint`` what the admin should fix in the Connected
    App (see :data:`opencx_salesforce.salesforce.oauth_hints.OAUTH_ERROR_HINTS`)."""

    # Codes that clear by themselves; every other one needs an admin.
    TRANSIENT_CODES = frozenset({"rate_limit_exceeded", "temporarily_unavailable", "server_error"})

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        hint: str = "",
        url: str = "",
        status: int | None = None,
        body: Any = None,
    ) -> None:
        self.error = error
        self.description = description
        self.hint = hint
        text = description or error
        if hint:
            text = f"{text}. {hint}"
        super().__init__(text, url=url, status=status, error_code=error, body=body)

    @property
    def is_retryable(self) -> bool:
        return self.error in self.TRANSIENT_CODES


# --- mapping a response to an error ---------------------------------------------------


def error_for_response(
    *,
    url: str,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
) -> ApiError:
    """The error for a REST response with an error status. One table, used for
    every request the client makes (and for composite subresponses)."""
    details = error_details(body)
    first = details[0] if details else None
    code = first.error_code if first else None
    if first is not None:
        message = "; ".join(str(d.message) for d in details) if len(details) > 1 else first.message
    elif isinstance(body, str):
        message = f"Salesforce answered HTTP {status} with a non-JSON body: {snippet(body)!r}"
    elif body is None:
        message = f"Salesforce answered HTTP {status} with an empty body"
    else:
        message = f"Salesforce answered HTTP {status}: {snippet(json.dumps(body))}"
    retry_after = parse_retry_after((headers or {}).get("Retry-After"))
    cls = _error_class(status, code)
    return cls(
        message,
        url=url,
        status=status,
        error_code=code,
        body=body,
        retry_after=retry_after,
        errors=details,
    )


def _error_class(status: int, code: str | None) -> type[ApiError]:
    # Codes first: they are more precise than the status (UNABLE_TO_LOCK_ROW
    # arrives as a 400, REQUEST_LIMIT_EXCEEDED as a 403 beside permission errors).
    if code == "INVALID_SESSION_ID":
        return SessionExpired
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RequestLimitExceeded
    if code == "UNABLE_TO_LOCK_ROW":
        return RowLocked
    return _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)


# [src: api_rest errorcodes.htm "Status Codes and Error Responses"]
_BY_STATUS: dict[int, type[ApiError]] = {
    300: MultipleMatches,
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    410: NotFound,
    429: Unavailable,
    500: ServerError,
    502: ServerError,
    503: Unavailable,
    504: ServerError,
}
