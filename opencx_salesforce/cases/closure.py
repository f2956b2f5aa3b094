"""What happens to a contact's words that arrive after the rep closed the Case,
when the settings say to give the conversation back to the bot.

``after_closure = "back_to_bot"`` hands the session back to the host's bot with
the message unanswered; otherwise (or when the host cannot take it back) the
words go to a follow-up Case, made by :class:`.service.CaseService`.
"""

from __future__ import annotations

import logging

from opencx_salesforce.cases.index import CaseIndex, SessionCase
from opencx_salesforce.hookspecs import HandsBackToBot, Host
from opencx_salesforce.settings import SalesforceSettings

log = logging.getLogger(__name__)


async def hand_back_to_bot(
    *,
    settings: SalesforceSettings,
    host: Host,
    index: CaseIndex,
    session_id: str,
    ref: SessionCase,
) -> bool:
    """``after_closure = "back_to_bot"``: give the session back to the bot, its
    message unanswered, when the host can (else a follow-up Case). Returns
    whether it was handed back."""
    if settings.after_closure != "back_to_bot":
        return False
    if not isinstance(host, HandsBackToBot):
        log.warning(
            "after_closure is back_to_bot but the host has no hand_back_to_bot: "
            "session %s gets a follow-up Case instead",
            session_id,
        )
        return False
    reason = f"Salesforce Case {ref.case_id} was closed; the contact's message is unanswered"
    # Written first: the closure handler must not resolve the session under it.
    await index.mark_handed_back(session_id, ref.case_id)
    await host.hand_back_to_bot(session_id, reason)
    log.info("session %s wrote after Case %s closed: back to the bot", session_id, ref.case_id)
    return True
