"""The plugin's own answers to its extension hooks, as a plugin like any other.

As datasette does with its default plugins, the default Case fields and the
default transcript are ``trylast`` implementations of the extension hooks,
registered by the runtime under :data:`~opencx_salesforce.extensions.DEFAULTS_PLUGIN`
once the settings are read. Extensions and defaults go through one path
(:mod:`opencx_salesforce.extensions`, through pluggy):

* ``salesforce_transcript`` is first-result: any extension that answers is
  asked before the defaults and wins; the defaults answer when none does.
* ``salesforce_case_fields`` merges every answer: the defaults' are asked first,
  so every extension sees them in ``fields``, and any extension's field replaces
  the default one (the defaults are the lowest layer).

A host that blocks the name (``pm.set_blocked("salesforce.defaults")``) gets
no default transcript and only the fields the plugin itself relies on.
"""

from __future__ import annotations

from typing import Any

import pluggy

from opencx_salesforce.cases.fields import base_fields
from opencx_salesforce.cases.transcript import TitledComments, packed_transcript
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.extensions import DEFAULTS_PLUGIN
from opencx_salesforce.hookspecs import hookimpl
from opencx_salesforce.models import Message, Session
from opencx_salesforce.settings import SalesforceSettings


class DefaultHooks:
    """The default Case fields and transcript for one set of settings."""

    def __init__(self, settings: SalesforceSettings) -> None:
        self._settings = settings

    @hookimpl(trylast=True)
    def salesforce_case_fields(self, session: Session) -> dict[str, Any]:
        """Subject, Description, Case_From__c, Origin, Priority and the
        Supplied* fields, from the session and the settings."""
        return base_fields(session, self._settings)

    @hookimpl(trylast=True)
    def salesforce_transcript(self, messages: list[Message], title: str) -> TitledComments:
        """A block per message (speaker, date and time), packed into comments
        numbered "title — part n of total"."""
        return packed_transcript(messages, title)


def register_defaults(pm: pluggy.PluginManager, settings: SalesforceSettings) -> DefaultHooks:
    """Register the defaults for ``settings`` on ``pm``, replacing those of a
    runtime started earlier on the same manager. Registered last, their
    ``trylast`` implementations are called after every other plugin's."""
    earlier = pm.get_plugin(DEFAULTS_PLUGIN)
    if earlier is not None and not isinstance(earlier, DefaultHooks):
        # Taken off without a word, an extension registered under this name
        # left its Case fields out of every Case.
        raise ConfigError(
            f"a plugin is registered as {DEFAULTS_PLUGIN!r}, the name of the Salesforce "
            "plugin's own defaults: register it under another name"
        )
    if earlier is not None:
        pm.unregister(earlier)
    defaults = DefaultHooks(settings)
    pm.register(defaults, name=DEFAULTS_PLUGIN)
    return defaults


def unregister_defaults(pm: pluggy.PluginManager, defaults: DefaultHooks) -> None:
    """Take ``defaults`` off ``pm``, unless another runtime replaced them."""
    if pm.get_plugin(DEFAULTS_PLUGIN) is defaults:
        pm.unregister(defaults)
