"""Errors the plugin raises, in one place.

::

    OpenCXSalesforceError            anything this package raises on purpose
    ├── ConfigError                  bad or missing settings; raised at startup,
    │                                the message names the key and what it expects
    ├── StoreUnavailable             the store cannot be opened at startup; the
    │                                message names the URL and the cause
    ├── ExtensionHookError           an extension plugin returned something unusable;
    │                                the message names the plugin and the field
    ├── LockBusy                     a lock in the store is held by another worker;
    │                                the caller reschedules rather than waits
    ├── RetryLater                   an outbox job cannot be done yet (it waits for
    │                                another job); not an error of the job
    ├── PermanentFailure             an outbox job can never succeed; dead-lettered
    │                                at once with this message
    └── SalesforceError              talking to Salesforce went wrong
        │                            (:mod:`opencx_salesforce.salesforce.errors`)
        ├── TransportError           could not reach Salesforce: retried
        ├── ApiError                 Salesforce said no: ValidationFailed, RowLocked,
        │                            SessionExpired, Forbidden, RequestLimitExceeded,
        │                            NotFound, ServerError, Unavailable, …
        ├── NeedsReauthorization     an admin must click Connect; work waits
        │   └── NotConnectedYet      nobody has yet (a fresh install): the same wait
        └── RefreshTimedOut          another instance held the refresh lock too long

What the outbox does with each is decided in one place,
:mod:`opencx_salesforce.outbox.policy`: transport errors and Salesforce errors
whose ``is_retryable`` says so are retried; a refusal (a validation rule, a
required field, a bad value) and anything else are dead-lettered at once with
the message, which the settings page shows.
"""

from __future__ import annotations


class OpenCXSalesforceError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(OpenCXSalesforceError):
    """A setting is missing or wrong. Raised at startup; the message names the key
    (as written in the TOML section or the environment) and what it expects."""


class StoreUnavailable(OpenCXSalesforceError):
    """The store named by the URL cannot be opened (the server does not answer,
    refuses the login, the file cannot be made). The message names the URL,
    without its password, and the cause."""


class ExtensionHookError(OpenCXSalesforceError):
    """An extension plugin's hook returned something the plugin cannot send.

    ``plugin`` is the name the plugin is registered under, ``field`` the Case field
    (or ``None`` when the whole answer is wrong)."""

    def __init__(self, plugin: str, field: str | None, problem: str) -> None:
        self.plugin = plugin
        self.field = field
        self.problem = problem
        where = f"field {field!r}" if field else "its answer"
        # A settings table ("[salesforce.case_fields]") is named as it is written.
        who = plugin if plugin.startswith("[") else f"plugin {plugin!r}"
        super().__init__(f"{who}: {where}: {problem}")


class LockBusy(OpenCXSalesforceError):
    """Another worker holds the lock named in the message
    (:func:`opencx_salesforce.store.lock.store_lock`)."""


class RetryLater(OpenCXSalesforceError):
    """Raised by an outbox job: it cannot be done yet (it waits for another job,
    say); try again after ``delay`` seconds. Not an error of the job."""

    def __init__(self, reason: str, delay: float = 0.5) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class PermanentFailure(OpenCXSalesforceError):
    """Raised by an outbox job: retrying cannot help. The job is dead-lettered at
    once with this message."""
