"""What each host action does to one session, as a change for
:meth:`~opencx_salesforce.devhost.sessions.SessionRepository.update`: a function
from the stored session to the new one, or ``None`` for "already so, write
nothing". Retried as a whole when another instance wrote first, so each is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opencx_salesforce.devhost.sessions import SessionStateError
from opencx_salesforce.models import Message, Role, Session, SessionStatus

Change = Callable[[Session], Session | None]


def set_metadata(values: Mapping[str, Any]) -> Change:
    def change(session: Session) -> Session | None:
        if all(k in session.metadata and session.metadata[k] == v for k, v in values.items()):
            return None
        return session.model_copy(update={"metadata": {**session.metadata, **values}})

    return change


def add_agent_message(message: Message) -> Change:
    def change(session: Session) -> Session | None:
        # The same Salesforce record is shown once, however often it is delivered
        # (a webhook and the sweep may both bring it).
        if any(m.external_id == message.external_id for m in session.messages):
            return None
        return session.model_copy(update={"messages": [*session.messages, message]})

    return change


def resolve(session: Session) -> Session | None:
    if session.status == SessionStatus.RESOLVED:
        return None
    return session.model_copy(update={"status": SessionStatus.RESOLVED})


def hand_back(reason: str) -> Change:
    """The bot is in charge again (status ``open``); ``reason`` is kept in the
    session's metadata as ``handed_back_reason``."""

    def change(session: Session) -> Session | None:
        if session.status != SessionStatus.HANDED_OFF:
            return None
        metadata = {**session.metadata, "handed_back_reason": reason}
        return session.model_copy(update={"status": SessionStatus.OPEN, "metadata": metadata})

    return change


def append_message(message: Message) -> Callable[[Session], Session]:
    """A message posted to the session; a contact writing to a resolved session
    reopens it (the bot is in charge again, a later handoff starts anew)."""

    def change(session: Session) -> Session:
        status = session.status
        if message.role == Role.CONTACT and status == SessionStatus.RESOLVED:
            status = SessionStatus.OPEN
        return session.model_copy(
            update={"messages": [*session.messages, message], "status": status}
        )

    return change


def hand_off(session: Session) -> Session:
    if session.status == SessionStatus.HANDED_OFF:
        raise SessionStateError(f"session {session.id!r} is already handed off")
    return session.model_copy(update={"status": SessionStatus.HANDED_OFF})
