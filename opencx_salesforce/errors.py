"""Errors the plugin raises, in one place.

::

    OpenCXSalesforceError            anything this package raises on purpose
    ├── ConfigError                  bad or missing settings; raised at startup,
    │                                the message names the key and what it expects
    └── ExtensionHookError           an extension plugin returned something unusable;
                                     the message names the plugin and the field

Errors from talking to Salesforce live in :mod:`opencx_salesforce.salesforce.errors`.
"""

from __future__ import annotations


class OpenCXSalesforceError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(OpenCXSalesforceError):
    """A setting is missing or wrong. Raised at startup; the message names the key
    (as written in the TOML section or the environment) and what it expects."""


class ExtensionHookError(OpenCXSalesforceError):
    """An extension plugin's hook returned something the plugin cannot send.

    ``plugin`` is the name the plugin is registered under, ``field`` the Case field
    (or ``None`` when the whole answer is wrong)."""

    def __init__(self, plugin: str, field: str | None, problem: str) -> None:
        self.plugin = plugin
        self.field = field
        self.problem = problem
        where = f"field {field!r}" if field else "its answer"
        super().__init__(f"plugin {plugin!r}: {where}: {problem}")
