"""A batch Salesforce refuses whole, sent again in halves until only the part at
fault fails: a refusal of the request as a whole (413 too large from a server on
the way; 400, "the JSON or XML body contains an error" [src: api_rest
errorcodes.htm]) is most likely one item's doing, and halving finds it in a few
requests instead of failing every item of the batch with it. Nothing of a
request refused whole was written, so sending its items again writes each once.
Used by both group commits, handoffs (:mod:`.batch`) and appends
(:mod:`.append_batch`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from opencx_salesforce.salesforce.errors import SalesforceError

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# HTTP 413 Content Too Large. [src: RFC 9110 §15.5.14]
TOO_LARGE = 413
REFUSED_WHOLE = (TOO_LARGE, 400)


async def in_halves(
    items: list[_T],
    send: Callable[[list[_T]], Awaitable[None]],
    fail: Callable[[_T, SalesforceError], None],
    what: str,
) -> None:
    """``send(items)``; refused whole, each half the same way, down to the one
    at fault, which ``fail`` settles. Any other error is raised (every item of
    the request failed with it)."""
    try:
        await send(items)
    except SalesforceError as exc:
        if exc.status not in REFUSED_WHOLE:
            raise
        if len(items) == 1:
            fail(items[0], exc)
            return
        why = "too large (413)" if exc.status == TOO_LARGE else f"refused whole ({exc})"
        log.warning("a batch of %d %s was %s: sent in halves", len(items), what, why)
        half = len(items) // 2
        await in_halves(items[:half], send, fail, what)
        await in_halves(items[half:], send, fail, what)
