"""A session as JSON, its messages serialised once for all who write it.

A handoff writes one conversation three times: the host's session with its new
status, the plugin's job, the host's session with the Case link. Each time only
the status or the metadata differ; the messages, most of the bytes, do not.
Messages are frozen, so the JSON of a list of the same message objects is the
same bytes: :func:`session_json` keeps it for recent lists, by the identity of
their messages, and writes the rest of the session around it.

The bytes are exactly pydantic's (``Session.model_dump_json()``, same key order),
so whatever was stored before reads and compares the same.
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

    def __call__(self, messages: list[Message]) -> bytes:
        key = tuple(map(id, messages))
        entry = self._entries.get(key)
        if entry is not None:
            return entry[1]
        raw = _MESSAGES.dump_json(messages)
        if not all(type(m) is Message for m in messages):
            return raw  # only plain messages are kept (what :meth:`kept` promises)
        with self._lock:
            self._entries[key] = (list(messages), raw)
            if len(self._entries) > self._kept:
                del self._entries[next(iter(self._entries))]  # the oldest
        return raw


messages_json = _MessagesJSON(_KEPT)


def session_json(session: Session) -> bytes:
    """``session.model_dump_json().encode()``, its messages' JSON reused when the
    same messages were written lately."""
    if type(session) is not Session:
        return session.model_dump_json().encode()  # a subclass: its own fields and order
    messages = messages_json.kept(session.messages)
    if messages is None:
        if not all(type(m) is Message for m in session.messages):
            return session.model_dump_json().encode()  # a subclass: its own fields and order
        messages = messages_json(session.messages)
    rest = session.__pydantic_serializer__.to_json(session, exclude={"messages"})
    at = rest.index(_METADATA)
    return b"".join((rest[:at], b',"messages":', messages, rest[at:]))
