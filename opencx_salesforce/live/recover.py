"""Chats an older release left stuck: the rep's end cut halfway before an
ending was marked in the store (``LiveChat.ending``, records.py), so nobody
finished it: the chat ended, the session still handed off, the contact's
unread words only in the chat record.

At start the keeper looks once for them and hands the ones that are safe to
finish to the usual ending (inbound.LiveInbound.finish), marked as a rep's
end: it closes the conversation, so that a later message opens no new
session without the chat's pre-chat data [MIAW.md §5] (one closed already
stays closed: the error is only logged, inbound.LiveInbound.close). Those
are the chats:

- ended, nothing under way, neither resolving nor written-after-end marked
  (an end that got that far was finished by its own steps, or left a record
  no different from a finished one, which cannot be told apart);
- a rep had joined: an older release's contact leaving, the other way to
  this record, put words on the Case only when no rep had, so finishing one
  here repeats nothing;
- words no rep read are in the record, so the finish puts them on the Case
  (each append landing once by its id, as the chat's send jobs ask for the
  unsent ones) and never resolves the session: the Case carries on;
- the session is still handed off, on the chat's Case.

Those without unread words are only logged: their session may be waiting for
a resolution the end never made, but a session handed off again since (on
the Case path) looks the same, and resolving it would end a conversation
that is going on. An operator resolves them (the log names each).
"""

from __future__ import annotations

import logging

from opencx_salesforce.hookspecs import Host
from opencx_salesforce.live.inbound import unread_at_end
from opencx_salesforce.live.records import ENDED, LiveChat, LiveChats
from opencx_salesforce.models import SessionStatus

log = logging.getLogger(__name__)


async def recover_cut_ends(chats: LiveChats, host: Host) -> int:
    """Mark the stuck chats that are safe to finish; how many were."""
    marked = 0
    for chat in await chats.all():
        if not _cut_by_an_older_release(chat):
            continue
        session_id = chat.session_id
        session = await host.get_session(session_id)
        if session is None or session.status != SessionStatus.HANDED_OFF:
            continue
        if chat.case_id and session.metadata.get("salesforce_case_id") != chat.case_id:
            continue  # handed off again since, on another Case
        if not chat.agent or not any(unread_at_end(chat)):
            log.warning(
                "session %s: live chat %s ended and the session is still handed off; "
                "left as it is (resolve it if the conversation is over)",
                session_id,
                chat.conversation_id,
            )
            continue
        finishing = await chats.transition(
            session_id, (ENDED,), unless="ending", ending=True, close_at_end=True
        )
        if finishing is not None:
            marked += 1
            log.warning(
                "session %s: live chat %s ended with words no rep read, left by an older "
                "release: they go onto the Case",
                session_id,
                chat.conversation_id,
            )
    return marked


def _cut_by_an_older_release(chat: LiveChat) -> bool:
    return (
        chat.state == ENDED
        and not chat.ending
        and not chat.resolving
        and not chat.wrote_after_end
        and not chat.left
    )
