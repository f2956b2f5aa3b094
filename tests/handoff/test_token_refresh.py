"""Token life seen from a handoff: a token older than ``token_refresh_after_seconds``
is renewed before use (proactive), and an expired one after Salesforce's 401
(reactive); either way the handoff costs its one REST call, and exactly one token
request is made."""

from __future__ import annotations

import asyncio

from handoff_support import api_calls, converse, handoff_and_wait

from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID
from opencx_salesforce.store.memory import MemoryStore


async def test_an_old_token_is_renewed_before_use() -> None:
    stack = await start_stack(
        store=MemoryStore(), plugin_settings={"token_refresh_after_seconds": 0.2}
    )
    try:
        counters = stack.emulator.state.auth.counters
        before = counters.count_requests(client_id=DEMO_CLIENT_ID)
        await asyncio.sleep(0.3)  # the token is now "old" for the plugin
        session = await converse(stack.host, texts=["hi"])
        calls = api_calls(stack)
        await handoff_and_wait(stack.host, session.id)
        assert counters.count_requests(client_id=DEMO_CLIENT_ID) - before == 1
        assert api_calls(stack) - calls == 1  # no 401 round trip
    finally:
        await stack.close()


async def test_an_expired_token_is_renewed_after_the_401() -> None:
    stack = await start_stack(
        store=MemoryStore(), plugin_settings={"token_refresh_after_seconds": 0}
    )
    try:
        counters = stack.emulator.state.auth.counters
        before = counters.count_requests(client_id=DEMO_CLIENT_ID)
        stack.emulator.state.auth.expire_access_tokens(stack.org.id)
        session = await converse(stack.host, texts=["hi"])
        await handoff_and_wait(stack.host, session.id)
        assert counters.count_requests(client_id=DEMO_CLIENT_ID) - before == 1
    finally:
        await stack.close()
