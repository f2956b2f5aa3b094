"""The reference host's sessions: what a read gives is what the store holds,
whatever this instance parsed before (it keeps recent sessions parsed so an
update does not parse the bytes it just wrote)."""

from __future__ import annotations

from opencx_salesforce.devhost.sessions import SessionRepository
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
