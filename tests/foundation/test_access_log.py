"""The reference host's access log keeps secrets out: the webhook token in the
path and the OAuth callback's code and state in the query."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from opencx_salesforce.devhost.access_log import redact
from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.store.memory import MemoryStore


def test_redact_masks_the_webhook_token() -> None:
    assert redact("/integrations/salesforce/webhook/s3cr3t") == "/integrations/salesforce/webhook/…"
    assert redact("/integrations/salesforce/admin") == "/integrations/salesforce/admin"


async def test_the_access_log_holds_no_token_code_or_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    stack = await start_stack(store=MemoryStore(), connect=False)
    try:
        token = stack.runtime.webhook_token
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{stack.runtime.webhook_url}", data=b"{}"):
                pass
            callback = f"{stack.host_url}/integrations/salesforce/oauth/callback"
            async with http.get(callback, params={"code": "C0DE-123", "state": "ST4TE-456"}):
                pass
    finally:
        await stack.close()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "aiohttp.access")
    assert "/webhook/…" in logged and "/oauth/callback?…" in logged
    for secret in (token, "C0DE-123", "ST4TE-456"):
        assert secret not in logged
