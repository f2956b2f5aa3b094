"""Which conversation a rep's reply goes to when a Case holds several: the one
the contact is using.

A Case holds two sessions when the same contact was handed off again while it
was open (the second conversation joins it). The reply went to the one that
joined last; a contact who went back to the first conversation and wrote there
never saw it. Now: a session still handed off before one that is not, then the
one the contact wrote in last, then the one that joined last. One session (the
usual Case) costs the one read it always did; several, one read each.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from opencx_salesforce.hookspecs import Host
from opencx_salesforce.models import Role, Session, SessionStatus


async def recipient(host: Host, session_ids: Sequence[str]) -> str | None:
    """The session a reply on a Case with these sessions (in the order they
    joined) goes to; None when the host has none of them any more."""
    if len(session_ids) == 1:
        return session_ids[0] if await host.get_session(session_ids[0]) is not None else None
    sessions = await asyncio.gather(*(host.get_session(s) for s in session_ids))
    found = [(s, joined) for joined, s in enumerate(sessions) if s is not None]
    if not found:
        return None
    chosen, _ = max(found, key=lambda pair: (*_in_use(pair[0]), pair[1]))
    return chosen.id


def _in_use(session: Session) -> tuple[bool, float]:
    """Still handed off; when the contact last wrote there (epoch seconds)."""
    last = max(
        (_seconds(m.created_at) for m in session.messages if m.role == Role.CONTACT),
        default=-math.inf,
    )
    return session.status == SessionStatus.HANDED_OFF, last


def _seconds(moment: datetime) -> float:
    # A time without a zone is taken as UTC, as the transcript does.
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
