"""Shape the live path: keep some sessions off it, and tell the contact what
happens next in their own language when no agent can take the chat.

``case_for`` names session metadata values that send a handoff to a Case even on
a live channel (say ``{"plan": "free"}``); ``acknowledgements`` maps a language
code (the session's ``language``, matched on its first part: ``fr-CA`` → ``fr``)
to the text the contact reads when the fallback is taken.

Enable it by registering an instance in your host::

    host.plugin_manager.register(
        LivePath(case_for={"plan": "free"}, acknowledgements={"fr": "..."}),
        name="live-path",
    )

or point an ``opencx`` entry point at ``plugin`` and list it in the host's
``plugins`` setting::

    [project.entry-points.opencx]
    live_path = "acme_support.live_path:plugin"
"""

from __future__ import annotations

from collections.abc import Mapping

from opencx_salesforce import Session, hookimpl


class LivePath:
    def __init__(
        self,
        case_for: Mapping[str, object] | None = None,
        acknowledgements: Mapping[str, str] | None = None,
    ) -> None:
        self.case_for = dict(case_for or {})
        self.acknowledgements = {k.lower(): v for k, v in (acknowledgements or {}).items()}

    @hookimpl
    def salesforce_live_path(self, session: Session) -> str | None:
        for key, value in self.case_for.items():
            if session.metadata.get(key) == value:
                return "case"
        return None  # the channel setting decides

    @hookimpl
    def salesforce_live_acknowledgement(self, session: Session, reason: str) -> str | None:
        language = (session.language or "").split("-")[0].split("_")[0].lower()
        return self.acknowledgements.get(language)


plugin = LivePath(
    acknowledgements={
        "fr": "Personne n'est disponible pour le moment ; un conseiller vous répondra ici.",
        "de": "Gerade ist niemand frei; jemand aus unserem Team antwortet Ihnen hier.",
    }
)
