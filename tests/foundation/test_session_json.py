"""session_json: pydantic's bytes for a session, its messages' JSON reused.

What is stored (the host's session, the plugin's job) must not depend on whether
the messages' JSON was kept: the bytes are compared with ``model_dump_json`` for
any content, before and after the cache holds them, and for a session read back
from them (read_session keeps its messages' stored bytes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opencx_salesforce import session_json as session_json_module
from opencx_salesforce.models import Contact, Message, Role, Session, detached_copy
from opencx_salesforce.session_json import messages_json, read_session, session_json

# Texts that could fool a splice: the marker itself, quotes, backslashes.
texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(['","metadata":{', ',"metadata":', '\\",\\"metadata\\":', "\\", '"']),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    messages = [
        Message(
            id=f"m{n}",
            role=draw(st.sampled_from(list(Role))),
            text=draw(texts),
            created_at=start + timedelta(seconds=n),
            author=draw(st.none() | texts),
            external_id=draw(st.none() | texts),
        )
        for n in range(draw(st.integers(0, 6)))
    ]
    return Session(
        id=draw(texts.filter(bool)),
        contact=Contact(name=draw(st.none() | texts), email=draw(st.none() | texts)),
        topic=draw(texts),
        summary=draw(texts),
        language=draw(st.none() | texts),
        messages=messages,
        metadata=draw(st.dictionaries(texts, json_values, max_size=4)),
        created_at=start.astimezone(timezone(timedelta(hours=2))),
    )


@settings(max_examples=300, deadline=None)
@given(session=sessions(), extra=st.dictionaries(texts, json_values, max_size=2))
def test_the_bytes_are_pydantics_cold_and_kept(session: Session, extra: dict[str, Any]) -> None:
    assert session_json(session) == session.model_dump_json().encode()
    # The same messages under other metadata and another object: the kept JSON.
    changed = detached_copy(session).model_copy(update={"metadata": {**session.metadata, **extra}})
    assert session_json(changed) == changed.model_dump_json().encode()


def test_a_new_message_is_a_new_list_and_new_bytes() -> None:
    first = Message(id="m1", role=Role.CONTACT, text="hello")
    session = Session(id="s", messages=[first])
    before = session_json(session)
    later = session.model_copy(
        update={"messages": [first, Message(id="m2", role=Role.BOT, text="hi")]}
    )
    after = session_json(later)
    assert after == later.model_dump_json().encode() != before


def test_the_messages_json_is_kept_for_the_same_message_objects() -> None:
    session = Session(id="s", messages=[Message(id="m1", role=Role.CONTACT, text="hello")])
    kept = messages_json(session.messages)
    assert messages_json(list(session.messages)) is kept  # another list, the same messages
    # Equal messages that are other objects are serialised again (ids, not equality).
    again = messages_json([m.model_copy() for m in session.messages])
    assert again == kept and again is not kept


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_a_subclass_and_a_stray_item_are_dumped_whole() -> None:
    class Tagged(Session):
        tag: str = "x"

    tagged = Tagged(id="s", messages=[Message(id="m1", role=Role.BOT, text="hi")])
    assert session_json(tagged) == tagged.model_dump_json().encode()
    # A dict where a message should be (model_construct skips validation): it is
    # mutable, so never kept; the bytes follow it when it changes.
    stray: dict[str, Any] = {"id": "m1", "role": "bot", "text": "one"}
    loose = Session.model_construct(**{**Session(id="s").__dict__, "messages": [stray]})
    first = session_json(loose)
    stray["text"] = "two"
    assert session_json(loose) != first


def test_only_plain_messages_are_kept() -> None:
    """A subclass's JSON is not kept, whoever asks: a later session of the
    same objects is dumped whole, its bytes pydantic's."""

    class Marked(Message):
        mark: str = "m"

    messages: list[Message] = [Marked(id="m1", role=Role.BOT, text="hi")]
    messages_json(messages)
    assert messages_json.kept(messages) is None
    session = Session(id="s", messages=messages)
    assert session_json(session) == session.model_dump_json().encode()


@settings(max_examples=300, deadline=None)
@given(session=sessions(), extra=st.dictionaries(texts, json_values, max_size=2))
def test_a_session_read_back_writes_pydantics_bytes_without_serialising_its_messages(
    session: Session, extra: dict[str, Any]
) -> None:
    stored = session.model_dump_json().encode()
    read = read_session(stored)
    assert read == session
    # Its messages' JSON is the stored slice: no serialisation on the way back.
    assert messages_json.kept(read.messages) is not None
    changed = read.model_copy(update={"metadata": {**read.metadata, **extra}})
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(session_json_module, "_MESSAGES", None)  # any use would fail
        written = session_json(changed)
    assert written == changed.model_dump_json().encode()


def test_messages_stored_in_another_format_are_written_back_as_they_were() -> None:
    """Stored messages' JSON another way (escaped non-ASCII, spaces): written
    back unchanged with the session's new metadata, and read the same."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    session = Session(
        id="s", messages=[Message(id="m1", role=Role.CONTACT, text="café", created_at=when)]
    )
    canonical = session.model_dump_json().encode()
    head, _, tail = canonical.partition(b'"messages":')
    tail = tail[tail.index(b',"metadata":') :]
    messages = [m.model_dump(mode="json") for m in session.messages]
    foreign = json.dumps(messages, ensure_ascii=True, indent=1).encode()  # "caf\u00e9"
    stored = head + b'"messages":' + foreign + tail
    read = read_session(stored)
    assert read == session
    handed_off = read.model_copy(update={"metadata": {"k": "v"}})
    written = session_json(handed_off)
    assert foreign in written
    assert Session.model_validate_json(written) == handed_off


def test_a_session_stored_in_another_format_is_written_as_pydantics() -> None:
    """Bytes around the messages unlike pydantic's (spaces after the colons):
    nothing is kept from them; the session is written as pydantic writes it."""
    session = Session(id="s", messages=[Message(id="m1", role=Role.CONTACT, text="hello")])
    stored = json.dumps(session.model_dump(mode="json")).encode()
    read = read_session(stored)
    assert read == session
    assert messages_json.kept(read.messages) is None
    assert session_json(read) == read.model_dump_json().encode()
