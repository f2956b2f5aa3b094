"""A chat's record as the store keeps it, read by instances of two releases."""

from __future__ import annotations

import json

from opencx_salesforce.live.records import NS, LiveChat, LiveChats
from opencx_salesforce.store.memory import MemoryStore


async def test_a_record_with_fields_of_a_newer_release_is_read_and_they_are_kept() -> None:
    # During a rolling upgrade an older instance reads what a newer one wrote:
    # a field it does not know made the read fail (TypeError), and the chat
    # stopped for it.
    store = MemoryStore()
    chats = LiveChats(store)
    await chats.create(LiveChat(session_id="s1", conversation_id="c1"))
    [key] = await store.keys(NS)
    raw = json.loads(await store.get(NS, key) or b"{}")
    await store.set(NS, key, json.dumps({**raw, "from_a_newer_release": 1}).encode())
    chat = await chats.get("s1")
    assert chat is not None and chat.conversation_id == "c1"
    await chats.update("s1", agent="Riley")
    kept = json.loads(await store.get(NS, key) or b"{}")
    assert kept["from_a_newer_release"] == 1 and kept["agent"] == "Riley"
