"""A session as JSON, its messages serialised once for all who write it.

A handoff writes one conversation three times: the host's session with its new
status, the plugin's job, the host's session with the Case link. Each time only
the status or the metadata differ; the messages, most of the bytes, do not.
Messages are frozen, so the JSON of a list of the same message objects is the
same bytes: :func:`session_json` keeps it for recent lists, by the identity of
their messages, and writes the rest of the session around it.

A session read from the store (:func:`read_session`) keeps the stored bytes of
its messages the same way, so writing it back with a new status or new metadata
does not serialise its messages again: they are written as they were read.

The bytes are exactly pydantic's (``Session.model_dump_json()``, same key order)
for a session built here, and for one read from bytes pydantic wrote (every
writer of the reference host's sessions): whatever was stored before reads and
compares the same. Either way they read back as the same session.
"""

from __future__ import annotations

import threading

from pydantic import TypeAdapter

from opencx_salesforce.models import Message, Session

# Lists kept: about the conversations in flight at once on one instance.
_KEPT = 256
_MESSAGES = TypeAdapter(list[Message])
# Session's fields in order put messages just before metadata: the messages'
# JSON goes in front of the first top-level ',"metadata":' of the rest. Inside a
# JSON string every '"' follows a backslash, and no field before metadata is an
# object with a "metadata" key of its own, so that first occurrence is the field.
_METADATA = b',"metadata":'
assert list(Session.model_fields).index("messages") + 1 == list(Session.model_fields).index(
    "metadata"
)


class _MessagesJSON:
    """JSON of recent message lists, keyed by the identity of their messages.
    An entry holds its messages, so no other object can take their ids while
    it is kept."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._entries: dict[tuple[int, ...], tuple[list[Message], bytes]] = {}
        self._lock = threading.Lock()  # the host and a plugin may run on other threads

    def kept(self, messages: list[Message]) -> bytes | None:
        """The JSON of these very messages, if kept (then they are plain
        :class:`Message` objects, whose JSON cannot change)."""
        entry = self._entries.get(tuple(map(id, messages)))
        return None if entry is None else entry[1]

    def keep(self, messages: list[Message], raw: bytes | None = None) -> bytes | None:
        """Their JSON, kept: ``raw`` when given (the JSON these very messages
        were parsed from), else serialised now. None (nothing kept or
        serialised) when one of them is not a plain :class:`Message`: only
        those are kept."""
        if not all(type(m) is Message for m in messages):
            return None
        if raw is None:
            raw = _MESSAGES.dump_json(messages)
        with self._lock:
            self._entries[tuple(map(id, messages))] = (list(messages), raw)
            if len(self._entries) > self._kept:
                del self._entries[next(iter(self._entries))]  # the oldest
        return raw

    def __call__(self, messages: list[Message]) -> bytes:
        found = self.kept(messages) or self.keep(messages)
        return _MESSAGES.dump_json(messages) if found is None else found


messages_json = _MessagesJSON(_KEPT)


def session_json(session: Session) -> bytes:
    """``session.model_dump_json().encode()``, its messages' JSON reused when the
    same messages were written lately."""
    if type(session) is not Session:
        return session.model_dump_json().encode()  # a subclass: its own fields and order
    messages = messages_json.kept(session.messages) or messages_json.keep(session.messages)
    if messages is None:
        return session.model_dump_json().encode()  # not all plain messages: pydantic's own
    head, tail = _around_messages(session)
    return b"".join((head, messages, tail))


def read_session(raw: bytes) -> Session:
    """``Session.model_validate_json(raw)``, its messages' JSON kept as the
    slice of ``raw`` that holds them. Kept only when everything around that
    slice is byte for byte what :func:`session_json` writes for the session
    parsed: then the slice is what the stored session's ``"messages"`` was
    read from, whoever wrote it, and the session written back later, between
    the same kind of bytes, carries it unchanged and reads as the same
    messages."""
    session = Session.model_validate_json(raw)
    head, tail = _around_messages(session)
    if len(raw) > len(head) + len(tail) and raw.startswith(head) and raw.endswith(tail):
        messages_json.keep(session.messages, raw[len(head) : len(raw) - len(tail)])
    return session


def _around_messages(session: Session) -> tuple[bytes, bytes]:
    """The session's JSON before its messages' value (ending ``"messages":``)
    and after it (from ``,"metadata":``)."""
    rest = session.__pydantic_serializer__.to_json(session, exclude={"messages"})
    at = rest.index(_METADATA)
    return rest[:at] + b',"messages":', rest[at:]
