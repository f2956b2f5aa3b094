"""Salesforce's dateTime values: read as the REST API returns them, written as
SOQL literals and as the API writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def parse(value: str) -> datetime:
    """A Salesforce dateTime as the REST API returns it,
    ``2013-05-20T20:49:32.000+0000``. [src: SALESFORCE.md §5 returned dateTime format]"""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def api_format(moment: datetime) -> str:
    """``moment`` written the way the REST API writes dateTimes (milliseconds,
    ``+0000``)."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def soql_literal(value: str) -> str:
    """A Salesforce dateTime as a SOQL literal, floored to the second: the
    documented literal formats stop at seconds, so callers compare with ``>=`` and
    drop what they already handled. [src: soql_sosl sforce_api_calls_soql_select_dateformats.htm]"""
    return parse(value).strftime("%Y-%m-%dT%H:%M:%SZ")
