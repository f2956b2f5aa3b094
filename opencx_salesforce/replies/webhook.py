"""The webhook route: ``POST /integrations/salesforce/webhook/{token}``.

What the generated Apex calls (DESIGN.md, "The webhook contract"; the names and
the signature scheme come from :mod:`opencx_salesforce.apex.contract`). The call
proves nothing by itself: this route checks that it comes from the org's Named
Credential (the secret path token, and the HMAC signature over a fresh timestamp
when a signing secret is configured), checks that it follows the contract, and
queues a read of the Case. It answers 202 at once; the read happens in the
outbox, with the plugin's own token.

Refusals, checked in this order so that nothing is read or parsed for a caller
who does not hold the token:

===== ================================================================
401   wrong token; missing or wrong signature; timestamp outside the window
415   not ``application/json``
413   body over ``webhook_max_body_bytes`` (counted while reading, whatever
      Content-Length says)
408   the body did not arrive within ``webhook_body_timeout_seconds``
409   a replay: this signature was already accepted (:mod:`.replay`)
400   not the contract (the reason in a JSON body): a doorbell, or a digest
      (:mod:`opencx_salesforce.apex.digest_contract`, handled by :mod:`.digest`)
===== ================================================================

A refused call changes nothing but a counter (and a 409 is refused before
anything else happens, so a captured call sent again costs no API call).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from opencx_salesforce.apex import contract, digest_contract
from opencx_salesforce.log_throttle import LogThrottle, also
from opencx_salesforce.replies import replay
from opencx_salesforce.runtime import Runtime
from opencx_salesforce.settings import SalesforceSettings
from opencx_salesforce.store.failures import cause_of, from_the_store
from opencx_salesforce.web.context import running

log = logging.getLogger(__name__)

WEBHOOK_ROUTE_NAME = "salesforce-webhook"
# The events that ring for one reply (the record is a comment or an email).
REPLY_EVENTS = frozenset(
    {
        contract.EVENT_CASE_COMMENT_CREATED,
        contract.EVENT_CASE_COMMENT_PUBLISHED,
        contract.EVENT_EMAIL_MESSAGE_CREATED,
        contract.EVENT_EMAIL_MESSAGE_SENT,
    }
)


def add_webhook_routes(app: web.Application) -> None:
    """Add the webhook route to the plugin's sub-application
    (:mod:`opencx_salesforce.web.app`)."""
    app.router.add_post("/webhook/{token}", receive_webhook, name=WEBHOOK_ROUTE_NAME)


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)


# One line in a while for each reason (the metric counts every call): 200
# forged calls were 200 lines. By reason, so a flood of one does not hide the
# first of another (a clock gone wrong among bad tokens).
_refusals: dict[str, LogThrottle] = {}


def _refuse(services: Runtime, status: int, category: str, message: str) -> web.Response:
    reason = f"{status} {category}"
    services.reply_status.webhooks_refused[reason] += 1
    report = _refusals.setdefault(reason, LogThrottle()).due()
    if report is None:
        log.debug("webhook refused: %s", reason)
    else:
        log.info("webhook refused: %s%s", reason, also(report))
    return _answer(status, {"error": message})


_store_trouble = LogThrottle()


async def receive_webhook(request: web.Request) -> web.Response:
    """A call from the package. With the store not answering it is 503 (the
    package calls again, the sweep reads what it missed), not a bare 500 with
    a traceback logged for every call."""
    try:
        return await _receive(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if not from_the_store(exc):
            raise
        report = _store_trouble.due()
        if report is not None:
            log.warning("webhook: the store failed (%s)%s", cause_of(exc), also(report))
        return web.json_response(
            {"error": "the plugin's store failed; call again later"},
            status=503,
            headers={"Retry-After": "5"},
        )


async def _receive(request: web.Request) -> web.Response:
    services = running(request)
    settings = services.settings

    token = request.match_info["token"].encode()
    if not hmac.compare_digest(token, services.webhook_token.encode()):
        return _refuse(services, 401, "token", "unauthorized")

    if request.content_type != contract.CONTENT_TYPE_JSON:
        return _refuse(
            services, 415, "content type", f"expected Content-Type {contract.CONTENT_TYPE_JSON}"
        )

    limit = settings.webhook_max_body_bytes
    timeout = settings.webhook_body_timeout_seconds
    try:
        # A caller that sends half a body and waits must not hold a handler and
        # a connection for ever.
        async with asyncio.timeout(timeout):
            body = await _read_limited(request, limit)
    except TimeoutError:
        return _refuse(
            services, 408, "body timeout", f"the body did not arrive within {timeout:g} s"
        )
    if body is None:
        return _refuse(services, 413, "too large", f"body larger than {limit} bytes")

    secret = services.signing_secret
    if secret is not None:
        problem = _signature_problem(request, body, secret, settings)
        if problem is not None:
            return _refuse(services, 401, problem, f"unauthorized: {problem}")
        fresh = await replay.first_sighting(
            services.host.store,
            request.headers[contract.HEADER_SIGNATURE],
            tolerance_seconds=settings.webhook_timestamp_tolerance_seconds,
        )
        if not fresh:
            return _refuse(services, 409, "replay", "this signed call was already received")

    digest: digest_contract.Digest | None = None
    try:
        data = contract.decode_json(body)
        if digest_contract.is_digest(data):
            digest = digest_contract.parse_digest(data)
        else:
            event = contract.parse_event(data)
    except contract.ContractViolation as exc:
        return _refuse(services, 400, "malformed", str(exc))

    status = services.reply_status
    status.last_webhook_at = time.time()
    status.last_webhook_event = digest_contract.EVENT_DIGEST if digest else event.event
    status.webhooks_accepted += 1
    if digest is not None:
        outcome = await services.digests.receive(digest)
        return _answer(
            202,
            {"accepted": True, "event": digest_contract.EVENT_DIGEST, "rung": outcome.rung},
        )
    if event.event == contract.EVENT_PING:
        status.pings += 1
        return _answer(202, {"accepted": True, "event": event.event})
    assert event.case_id is not None  # the contract requires it outside a ping
    await services.replies.activity.note()  # a conversation in progress: sweep often
    if event.event in REPLY_EVENTS and await services.replies.ledger.is_delivered(
        str(event.record_id)
    ):
        # The reply it rings for is already with the contact (a digest listed it
        # before its doorbell came, or the call was sent twice): no read needed.
        status.skipped_records["doorbell for a delivered reply"] += 1
        return _answer(202, {"accepted": True, "event": event.event, "coalesced": True})
    queued = await services.replies.ring(event.case_id)
    return _answer(202, {"accepted": True, "event": event.event, "coalesced": not queued})


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds ``limit`` (at most ``limit + 1`` bytes
    are ever read)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def _signature_problem(
    request: web.Request, body: bytes, secret: str, settings: SalesforceSettings
) -> str | None:
    timestamp = request.headers.get(contract.HEADER_TIMESTAMP, "")
    signature = request.headers.get(contract.HEADER_SIGNATURE, "")
    if not timestamp or not signature:
        return "signature"
    tolerance = int(settings.webhook_timestamp_tolerance_seconds)
    if not contract.timestamp_is_fresh(timestamp, datetime.now(UTC), tolerance):
        return "timestamp"
    if not contract.signature_matches(secret, timestamp, body, signature):
        return "signature"
    return None
