"""Copy session metadata into custom Case fields.

The bot host keeps free-form data on each conversation (``Session.metadata``): the
customer's plan, the order being discussed, an account number. This plugin copies
the keys you name into the Case fields you name::

    MetadataFields({"plan": "Plan__c", "order_id": "Order_Id__c"})

A key the session does not carry (or carries as ``None``) is skipped, so the field
keeps its default. Values go as they are: text to a Text field, a number to a
Number field. The Salesforce plugin checks every field against the org's describe
before anything is sent, so a mapping that names a field the org lacks (a typo, a
field not deployed yet) stops the handoff with an error naming this plugin and the
field, shown with the dead letters on the settings page::

    plugin 'metadata-fields': field 'Plan__c': no such field on Case in this org

Enable it in one of two ways:

* in your own host code, register an instance with your mapping::

      host.plugin_manager.register(
          MetadataFields({"plan": "Plan__c"}), name="metadata-fields"
      )

* or copy this file into your package, set ``MAPPING`` below to your fields, and
  point an ``opencx`` entry point at ``plugin``, then list it in the host's
  ``plugins`` setting::

      [project.entry-points.opencx]
      metadata_fields = "acme_support.metadata_fields:plugin"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opencx_salesforce import Session, hookimpl

# Session metadata key -> Case field API name. The entry-point ``plugin`` uses it.
MAPPING: Mapping[str, str] = {"plan": "Plan__c", "order_id": "Order_Id__c"}


class MetadataFields:
    """Sets one Case field per mapped metadata key the session carries."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = dict(mapping)

    @hookimpl
    def salesforce_case_fields(self, session: Session) -> dict[str, Any] | None:
        fields = {
            field: session.metadata[key]
            for key, field in self.mapping.items()
            if session.metadata.get(key) is not None
        }
        # None, not {}: "nothing to add" is the hook's documented answer.
        return fields or None


plugin = MetadataFields(MAPPING)
