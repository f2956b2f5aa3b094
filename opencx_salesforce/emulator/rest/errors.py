"""REST API errors: one exception carrying the HTTP status and Salesforce's error
body, raised anywhere below :func:`dispatch` and turned into a response there.

The body is a JSON array of ``{"message", "errorCode", "fields"}`` objects; ``fields``
appears when the error concerns particular fields.
[src: api_rest errorcodes.htm "Status Codes and Error Responses"; dome_sobject_create.htm]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def error_item(
    error_code: str, message: str, fields: Sequence[str] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"message": message, "errorCode": error_code}
    if fields is not None:
        item["fields"] = list(fields)
    return item


class ApiError(Exception):
    """A documented REST error: ``status`` and the JSON-array ``body``."""

    def __init__(
        self,
        status: int,
        body: list[dict[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(body[0]["message"] if body else str(status))
        self.status = status
        self.body = body
        self.headers = headers or {}

    @classmethod
    def one(
        cls,
        status: int,
        error_code: str,
        message: str,
        fields: Sequence[str] | None = None,
    ) -> ApiError:
        return cls(status, [error_item(error_code, message, fields)])


# The generic 404 for an unknown resource, record or object type.
# [src: api_rest errorcodes.htm; dome_upsert.htm shows the message]
NOT_FOUND_MESSAGE = "The requested resource does not exist"


def not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    return ApiError.one(404, "NOT_FOUND", message)


def method_not_allowed(method: str, allowed: Sequence[str]) -> ApiError:
    # 405: "The request couldn't be completed because the HTTP method isn't
    # allowed for the requested resource." [src: api_rest errorcodes.htm]
    error = ApiError.one(
        405,
        "METHOD_NOT_ALLOWED",
        f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
    )
    error.headers["Allow"] = ", ".join(allowed)
    return error


def retired_version() -> ApiError:
    """A retired API version: "If you request any resource or use an operation from a
    retired API version, REST API returns the 410:GONE error code." [src:
    developer.salesforce.com/docs/platform/connect-rest-api/guide/intro_api_eol.html]
    errorCode GONE as recorded in restforce/restforce issue 941; the message is
    UNCONFIRMED."""
    return ApiError.one(410, "GONE", "The requested resource has been retired.")
