"""Route the Case by the conversation's language.

The bot host knows which language the customer writes in (``Session.language``, a
tag such as ``"de"`` or ``"pt-BR"``). This plugin writes it, or a value you derive
from it, to a Case field, so that a Case assignment rule on that field can hand
the Case to the queue that speaks the language (REST API requests run the org's
active assignment rules unless told otherwise [src: api_rest
headers_autoassign.htm "If the header is not provided in the request, the
default value is TRUE"]).

Written as it is, by default to a text field ``OpenCX_Language__c`` (the
emulator's default org has one; in your org, create it or name your own)::

    LanguageRouting()                                   # "pt-BR" -> "pt-BR"

or translated to your routing values, in a field of your own::

    LanguageRouting(
        field="Support_Queue__c",
        values={"de": "German Support", "pt-br": "Brazil Support"},
        fallback="Global Support",
    )

With ``values``, a tag is looked up ignoring case, first whole (``pt-BR``), then by
its language alone (``de-AT`` -> ``de``); a language you did not list, or no
language at all, gets ``fallback``, and no fallback leaves the field empty.

Enable it by registering an instance in your host::

    host.plugin_manager.register(LanguageRouting(), name="language-routing")

or point an ``opencx`` entry point at ``plugin`` and list it in the host's
``plugins`` setting::

    [project.entry-points.opencx]
    language_routing = "acme_support.language_routing:plugin"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opencx_salesforce import Session, hookimpl

DEFAULT_FIELD = "OpenCX_Language__c"


class LanguageRouting:
    """Sets ``field`` from the session's language."""

    def __init__(
        self,
        field: str = DEFAULT_FIELD,
        values: Mapping[str, str] | None = None,
        fallback: str | None = None,
    ) -> None:
        self.field = field
        self.values = None if values is None else {k.lower(): v for k, v in values.items()}
        self.fallback = fallback

    def value_for(self, language: str | None) -> str | None:
        tag = (language or "").strip().replace("_", "-")
        if not tag:
            return self.fallback
        if self.values is None:
            return tag
        primary = tag.split("-")[0]
        return self.values.get(tag.lower()) or self.values.get(primary.lower()) or self.fallback

    @hookimpl
    def salesforce_case_fields(self, session: Session) -> dict[str, Any] | None:
        value = self.value_for(session.language)
        return None if value is None else {self.field: value}


plugin = LanguageRouting()
