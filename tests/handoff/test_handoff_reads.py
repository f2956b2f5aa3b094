"""A handoff reads what the index knows (the session's Case, the contact's
latest Case, the cached Contact match, and those Cases' entries) in one or two
store calls where the store reads many keys at once (``get_many``), and one key
at a time where it does not: the same Cases either way."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from handoff_support import case_id_of, cases, comments_of, converse

from opencx_salesforce.cases.index import NS
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.models import Contact
from opencx_salesforce.store.base import ReadsMany
from opencx_salesforce.store.memory import MemoryStore

JANE = Contact(name="Jane Doe", email="jane@example.com")


class CountingStore:
    """The memory store, its reads of the Case index counted; without
    ``get_many`` when ``many`` is false (a store that lacks the option)."""

    def __init__(self, *, many: bool) -> None:
        self.inner = MemoryStore()
        self.many = many
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        if name == "get_many" and not self.many:
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def get(self, ns: str, key: str) -> bytes | None:
        if ns == NS:
            self.reads["get " + key.split(":", 1)[0]] += 1
        return await self.inner.get(ns, key)


async def _stack(store: CountingStore) -> Stack:
    return await start_stack(store=store)  # type: ignore[arg-type]


@pytest.fixture(params=[True, False], ids=["get_many", "one_key_at_a_time"])
async def counted(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Stack, CountingStore]]:
    store = CountingStore(many=request.param)
    stack = await _stack(store)
    try:
        yield stack, store
    finally:
        await stack.close()


async def test_a_handoff_reads_the_index_in_one_call_where_the_store_can(
    counted: tuple[Stack, CountingStore],
) -> None:
    stack, store = counted
    assert isinstance(store, ReadsMany) is store.many
    first = await converse(stack.host, texts=["My parcel is missing."], contact=JANE)
    await stack.host.handoff(first.id)
    case_id = await case_id_of(stack.host, first.id)
    store.reads.clear()

    # The same contact again, while the Case is open: the index knows the
    # contact's Case and its entry, and this conversation joins it.
    second = await converse(stack.host, texts=["Hello again, about my parcel."], contact=JANE)
    await stack.host.handoff(second.id)
    assert await case_id_of(stack.host, second.id) == case_id
    assert len(cases(stack)) == 1
    bodies = "\n".join(c["CommentBody"] for c in comments_of(stack, case_id))
    assert "Hello again, about my parcel." in bodies
    # The link after the send reads the Case's entry to update it (a
    # compare-and-set loop): one "get case" either way; and the list of the
    # comments the plugin wrote on the Case, for the retention pass: one
    # "get owned".
    if store.many:
        assert store.reads == Counter({"get case": 1, "get owned": 1}), store.reads
    else:
        # (append_seq: whether a replayed handoff must leave out words its
        # appends carry; purged: whether retention forgot the session's last
        # Case; both in the one call where the store reads many keys.)
        expected = {"get session": 1, "get contact": 1, "get match": 1, "get append_seq": 1}
        expected |= {"get purged": 1, "get case": 2, "get owned": 1}
        assert store.reads == Counter(expected), store.reads
