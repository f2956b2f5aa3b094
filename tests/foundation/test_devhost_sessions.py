"""The reference host's sessions: what a read gives is what the store holds,
whatever this instance parsed before (it keeps recent sessions parsed so an
update does not parse the bytes it just wrote)."""

from __future__ import annotations

from collections.abc import Callable

from opencx_salesforce.devhost.sessions import SessionRepository, SessionStateError
from opencx_salesforce.models import Contact, Message, Role, Session
from opencx_salesforce.store.memory import MemoryStore


def _session() -> Session:
    return Session(
        id="s1",
        contact=Contact(name="Ann", email="ann@example.com"),
        messages=[Message(id="m1", role=Role.CONTACT, text="hello")],
        metadata={"plan": {"tier": "gold", "tags": ["a"]}},
    )


async def test_a_change_by_another_instance_is_what_the_next_read_gives() -> None:
    store = MemoryStore()
    mine, theirs = SessionRepository(store), SessionRepository(store)
    await mine.add(_session())
    assert (await mine.get("s1")) is not None  # parsed and kept here

    def tag(session: Session) -> Session:
        return session.model_copy(update={"metadata": {**session.metadata, "by": "them"}})

    await theirs.update("s1", tag)
    seen = await mine.get("s1")
    assert seen is not None and seen.metadata["by"] == "them"

    def add_message(session: Session) -> Session:
        extra = Message(id="m2", role=Role.BOT, text="hi")
        return session.model_copy(update={"messages": [*session.messages, extra]})

    updated, changed = await mine.update("s1", add_message)
    assert changed and [m.id for m in updated.messages] == ["m1", "m2"]
    again = await theirs.get("s1")
    assert again is not None and [m.id for m in again.messages] == ["m1", "m2"]


async def test_a_caller_changing_what_it_was_given_changes_nothing_stored() -> None:
    repo = SessionRepository(MemoryStore())
    await repo.add(_session())
    given = await repo.get("s1")
    assert given is not None
    given.messages.append(Message(id="stray", role=Role.BOT, text="not stored"))
    given.metadata["plan"]["tier"] = "changed in place"
    unchanged, changed = await repo.update("s1", lambda session: None)
    assert not changed
    unchanged.metadata["plan"]["tags"].append("also in place")

    fresh = await repo.get("s1")
    assert fresh is not None
    assert [m.id for m in fresh.messages] == ["m1"]
    assert fresh.metadata == {"plan": {"tier": "gold", "tags": ["a"]}}


class _Counting(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, ns: str, key: str) -> bytes | None:
        self.gets += 1
        return await super().get(ns, key)


def _tag(by: str) -> Callable[[Session], Session]:
    def tag(session: Session) -> Session:
        return session.model_copy(update={"metadata": {**session.metadata, by: True}})

    return tag


async def test_an_update_on_the_bytes_it_knows_reads_nothing_first() -> None:
    store = _Counting()
    repo = SessionRepository(store)
    await repo.add(_session())
    before = store.gets
    updated, changed = await repo.update("s1", _tag("first"))
    assert changed and updated.metadata["first"] is True
    assert store.gets == before  # the compare-and-set checked the known bytes


async def test_an_update_on_stale_bytes_keeps_the_other_instances_write() -> None:
    store = _Counting()
    mine, theirs = SessionRepository(store), SessionRepository(store)
    await mine.add(_session())
    await theirs.update("s1", _tag("theirs"))  # mine still knows the bytes it added
    updated, changed = await mine.update("s1", _tag("mine"))
    assert changed and updated.metadata["theirs"] is True and updated.metadata["mine"] is True
    stored = await theirs.get("s1")
    assert stored is not None and {"theirs", "mine"} <= set(stored.metadata)


async def test_a_refusal_on_stale_bytes_is_decided_again_on_the_stored_ones() -> None:
    store = MemoryStore()
    mine, theirs = SessionRepository(store), SessionRepository(store)
    await mine.add(_session())
    await theirs.update("s1", _tag("ready"))

    def needs_ready(session: Session) -> Session:
        if not session.metadata.get("ready"):
            raise SessionStateError("not ready")
        return session.model_copy(update={"metadata": {**session.metadata, "done": True}})

    updated, changed = await mine.update("s1", needs_ready)
    assert changed and updated.metadata["done"] is True

    # And "nothing to change" on stale bytes is checked against the store too.
    await theirs.update("s1", _tag("again"))
    current, changed = await mine.update(
        "s1", lambda s: None if s.metadata.get("again") else _tag("wrong")(s)
    )
    assert not changed and current.metadata.get("again") is True
