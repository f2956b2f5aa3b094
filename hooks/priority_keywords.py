"""Set the Case's Priority from words the customer used.

A customer who writes "outage" or "refund" should not wait behind a password
reset. This plugin looks for keywords in what the *customer* wrote (the bot's own
words, such as "is this urgent?", do not count) and sets the Case's standard
``Priority`` field::

    PriorityKeywords({"High": ["urgent", "outage", "refund"], "Low": ["feedback"]})

Matching ignores case and respects word boundaries: "refund" matches "Refund!"
but not "refunded"; list each form you mean. A keyword may be several words
("money back"). When keywords of several priorities match, the most urgent wins.

The plugin only ever raises the priority: when the Case already has one (the
bot's, mapped by the ``priority_map`` setting) that is as urgent or more, it is
kept. "More urgent" is the order of ``ranking``: your org's Priority picklist
values, most urgent first. A new org has High, Medium and Low, the default
[src: Case field reference, Priority picklist; the values are org-configurable,
describe is authoritative].

Enable it by registering an instance in your host::

    host.plugin_manager.register(PriorityKeywords(), name="priority-keywords")

or point an ``opencx`` entry point at ``plugin`` (the defaults below) and list it
in the host's ``plugins`` setting::

    [project.entry-points.opencx]
    priority_keywords = "acme_support.priority_keywords:plugin"
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opencx_salesforce import Role, Session, hookimpl

# Priority -> keywords. The entry-point ``plugin`` uses it.
KEYWORDS: Mapping[str, Iterable[str]] = {"High": ("urgent", "outage", "refund")}
# The Priority values of a new org, most urgent first.
RANKING: Sequence[str] = ("High", "Medium", "Low")


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    """One pattern matching any of ``keywords`` as whole words, in any case."""
    words = [w.strip() for w in keywords]
    if not words or not all(words):
        # An empty alternative would match at every word boundary.
        raise ValueError(f"keywords must be non-empty words, got {words!r}")
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


class PriorityKeywords:
    """Raises ``Priority`` to the most urgent priority whose keywords the
    customer used."""

    def __init__(
        self,
        keywords: Mapping[str, Iterable[str]] = KEYWORDS,
        ranking: Sequence[str] = RANKING,
    ) -> None:
        unknown = [priority for priority in keywords if priority not in ranking]
        if unknown:
            raise ValueError(f"priorities {unknown} are not in the ranking {list(ranking)}")
        self.ranking = list(ranking)
        # Most urgent first, so the first match is the one to use.
        self.rules = sorted(
            ((priority, keyword_pattern(words)) for priority, words in keywords.items()),
            key=lambda rule: self.ranking.index(rule[0]),
        )

    def priority_for(self, text: str) -> str | None:
        """The most urgent priority with a keyword in ``text``, or ``None``."""
        for priority, pattern in self.rules:
            if pattern.search(text):
                return priority
        return None

    def is_more_urgent(self, candidate: str, current: str | None) -> bool:
        if current is None or current not in self.ranking:
            return True
        return self.ranking.index(candidate) < self.ranking.index(current)

    @hookimpl
    def salesforce_case_fields(
        self, session: Session, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        said = "\n".join(m.text for m in session.messages if m.role == Role.CONTACT)
        priority = self.priority_for(said)
        # ``fields`` holds what the Case gets so far, the bot's Priority included.
        if priority is None or not self.is_more_urgent(priority, fields.get("Priority")):
            return None
        return {"Priority": priority}


plugin = PriorityKeywords()
