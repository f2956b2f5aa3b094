"""An org without EmailMessage (neither Email-to-Case nor Enhanced Email): the
reply read and the sweep leave emails out instead of failing on every read, and
comments still reach the contact."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest
from replies_support import (
    PLUGIN_SETTINGS,
    Rep,
    World,
    agent_messages,
    case_of,
    handed_off,
    ring,
    sweep,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.store.memory import MemoryStore


@pytest.fixture
async def world() -> AsyncIterator[World]:
    emulator = Emulator()
    await emulator.start()
    org = emulator.state.add_org(dataclasses.replace(default_org(), email_messages=False))
    http = aiohttp.ClientSession()
    made = World(emulator, org, MemoryStore(), http, dict(PLUGIN_SETTINGS))
    try:
        await made.start_node()
        yield made
    finally:
        for node in list(made.nodes):
            await made.stop_node(node)
        await http.close()
        await emulator.close()


async def test_replies_reach_the_contact_in_an_org_without_email_message(world: World) -> None:
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    rep = Rep(world.org)
    first = rep.comment(case_id, "No email here, comments only.")
    await ring(world, node, contract.EVENT_CASE_COMMENT_CREATED, case_id, first)
    await wait_for(lambda: agent_messages(node, session.id), what="the reply")
    assert not node.runtime.replies.emails_available

    # The sweep leaves its email stream out too, and still finds a lost reply.
    world.emulator.state.clock.advance(1.0)
    lost = rep.comment(case_id, "This webhook was lost.")
    report = await sweep(node.runtime)
    assert report.delivered == 1 and node.runtime.reply_status.last_sweep_error is None
    assert [m[2] for m in await agent_messages(node, session.id)] == [first, lost]
