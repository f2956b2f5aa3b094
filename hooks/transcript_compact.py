"""Render the transcript compactly: one ``HH:MM Name: text`` line per message.

The default transcript gives each message a block with its speaker, date and
time. Reps who prefer to skim get this instead::

    09:58 Jane Doe: My parcel never arrived.
    09:58 Bot: I'm sorry to hear that. Let me check the tracking.
    10:01 Jane Doe: It says delivered, but it is not here.

Each message becomes one line (line breaks inside it become spaces), named by its
author, else by the contact's name for the customer's messages, else by its role.
Set ``include_bot=False`` to leave the bot's messages out, ``timezone`` to show
the times in your team's zone (default UTC).

Lines are packed into comment bodies of at most ``budget_bytes`` UTF-8 bytes.
The Salesforce plugin puts a title line above each body and cuts anything longer
than a CaseComment holds (4,000 bytes through the API [src: CaseComment field
reference, CommentBody]), so the default budget leaves room for the title and a
body is cut only when a single message is longer than that.

The output depends only on the messages, which the plugin relies on: a retried
handoff compares the bodies it would write with those already on the Case.

Enable it by registering an instance in your host::

    host.plugin_manager.register(CompactTranscript(), name="compact-transcript")

or point an ``opencx`` entry point at ``plugin`` and list it in the host's
``plugins`` setting::

    [project.entry-points.opencx]
    compact_transcript = "acme_support.transcript_compact:plugin"
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo

from opencx_salesforce import Message, Role, Session, hookimpl

# Room under the 4,000-byte CaseComment limit for the title the plugin adds.
DEFAULT_BUDGET_BYTES = 3500

ROLE_NAMES = {Role.CONTACT: "Customer", Role.BOT: "Bot", Role.AGENT: "Agent", Role.SYSTEM: "System"}


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def pack_lines(lines: Sequence[str], budget_bytes: int) -> list[str]:
    """Join ``lines`` into as few bodies of at most ``budget_bytes`` as their
    order allows. A line longer than the budget gets a body of its own."""
    bodies: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        added = utf8_size(line) + (1 if current else 0)  # 1: the "\n" joining lines
        if current and size + added > budget_bytes:
            bodies.append("\n".join(current))
            current, size = [], 0
            added = utf8_size(line)
        current.append(line)
        size += added
    if current:
        bodies.append("\n".join(current))
    return bodies


class CompactTranscript:
    """The transcript as ``HH:MM Name: text`` lines."""

    def __init__(
        self,
        *,
        include_bot: bool = True,
        timezone: tzinfo = UTC,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.include_bot = include_bot
        self.timezone = timezone
        self.budget_bytes = budget_bytes

    def line(self, session: Session, message: Message) -> str:
        when = message.created_at.astimezone(self.timezone).strftime("%H:%M")
        name = message.author
        if name is None and message.role == Role.CONTACT:
            name = session.contact.name
        name = name or ROLE_NAMES.get(message.role, str(message.role))
        text = " ".join(message.text.split())
        return f"{when} {name}: {text}"

    @hookimpl
    def salesforce_transcript(self, session: Session, messages: list[Message]) -> list[str]:
        shown = [m for m in messages if self.include_bot or m.role != Role.BOT]
        # An empty list, not None: None would hand the messages (the bot's
        # included) to the default renderer.
        return pack_lines([self.line(session, m) for m in shown], self.budget_bytes)


plugin = CompactTranscript()
