"""Which path a handoff takes (a live agent or a Case), and what the agent's
routing sees: the routing attributes of the conversation and the one summary
message.

Routing attributes are the channel's pre-chat parameters: the standard
``_firstName``, ``_lastName``, ``_email``, ``_subject`` and custom ones named by
the channel's Parameter Mappings; "String is the only option for Data Type"
[src: MIAW.md §5; Help service.miaw_map_messaging_2.htm]. Each parameter has a
maximum length set by the admin; the plugin cuts long text at 255 characters.
"""

from __future__ import annotations

import logging

import pluggy

from opencx_salesforce.apex import names
from opencx_salesforce.errors import ExtensionHookError
from opencx_salesforce.hookcalls import call_each
from opencx_salesforce.models import Session
from opencx_salesforce.settings.live import LiveSettings

log = logging.getLogger(__name__)

LIVE = "live"
CASE = "case"
# Custom parameter names the admin maps in the channel (docs/admin-setup.md).
SESSION_ID = names.MESSAGING_SESSION_ID_PARAMETER  # the package's MessagingSession field
CHANNEL = "OpencxChannel"
LANGUAGE = "OpencxLanguage"
SUMMARY = "OpencxSummary"
CASE_ID = "OpencxCaseId"
MAX_ATTRIBUTE = 255
SUMMARY_MESSAGE_MAX = 1000


async def choose_path(pm: pluggy.PluginManager, settings: LiveSettings, session: Session) -> str:
    """``live`` or ``case`` for this session: a ``salesforce_live_path`` hook's
    answer first, then the channel setting. Live needs the deployment set."""
    answer: str | None = None

    def hook_failed(plugin: str, hook: str, error: Exception) -> None:
        log.error("plugin %r: %s failed; the channel setting decides", plugin, hook, exc_info=error)

    for plugin, value in await call_each(
        pm, "salesforce_live_path", {"session": session}, hook_failed
    ):
        if value not in (LIVE, CASE):
            # A wrong answer is that hook failing, like one that raised: raised to
            # the host instead, it lost the handoff (no Case, nothing queued).
            problem = f"expected 'live', 'case' or None, got {value!r}"
            hook_failed(plugin, "salesforce_live_path", ExtensionHookError(plugin, None, problem))
            break
        answer = str(value)
        break
    if answer is None:
        answer = LIVE if session.channel.value in settings.channels else CASE
    if answer == LIVE and not settings.configured:
        log.warning("session %s: live path chosen but no deployment is set; a Case", session.id)
        return CASE
    return answer


def routing_attributes(session: Session, case_id: str | None) -> dict[str, str]:
    """The pre-chat values the Omni-Channel flow routes on (strings, none empty)."""
    first, _, last = (session.contact.name or "").strip().partition(" ")
    values = {
        "_firstName": first,
        "_lastName": last,
        "_email": session.contact.email or "",
        "_subject": session.topic,
        SESSION_ID: session.id,
        CHANNEL: session.channel.value,
        LANGUAGE: session.language or "",
        SUMMARY: session.summary,
        CASE_ID: case_id or "",
    }
    return {key: _cut(value) for key, value in values.items() if value and value.strip()}


def summary_message(session: Session, case_id: str | None) -> str:
    """The one message that opens the conversation: who, why, where the rest is.
    The transcript itself is on the Case (one call), not replayed message by
    message: 22 inbound messages a minute per conversation [MIAW.md §6], and a
    replay would show every bot line as written by the customer [MIAW.md §7]."""
    lines = ["[Handed over by the assistant]"]
    if session.topic:
        lines.append(f"Topic: {session.topic}")
    if session.summary:
        lines.append(f"Summary: {session.summary}")
    if case_id:
        lines.append(f"Full transcript ({len(session.messages)} messages) on Case {case_id}.")
    text = "\n".join(lines)
    return text if len(text) <= SUMMARY_MESSAGE_MAX else text[: SUMMARY_MESSAGE_MAX - 1] + "…"


def _cut(value: str) -> str:
    value = value.strip()
    return value if len(value) <= MAX_ATTRIBUTE else value[: MAX_ATTRIBUTE - 1] + "…"
