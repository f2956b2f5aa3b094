"""The one retry policy: which failures of an outbox job are worth another try.

Retried (with backoff and jitter, at least ``retry_after`` when one is known):

* a :class:`~opencx_salesforce.salesforce.errors.SalesforceError` whose
  ``is_retryable`` says so: could not reach Salesforce, a locked row, a server
  error, 503, the daily quota, a token refresh another instance holds;
* :class:`NeedsReauthorization`: the job waits for an admin to click Connect,
  looking again every :data:`REAUTH_WAIT` seconds, as long as the dead-letter
  age allows; connecting again wakes it at once (:func:`waits_for_admin`);
* a transport error below the client, or from the host (``OSError``,
  ``TimeoutError``, ``aiohttp.ClientError``).

Everything else is dead-lettered at once with its message, which the settings
page shows: Salesforce refusing a record (a validation rule, a required field, a
bad value) will refuse it again, and an unexpected exception is a bug that no
amount of retrying fixes.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from opencx_salesforce.salesforce.errors import NeedsReauthorization, SalesforceError

# Waiting for an admin to reconnect is not a failure of the job: look again
# every few minutes, for as long as the dead-letter age allows.
REAUTH_WAIT = 120.0

RetryHint = Callable[[BaseException], tuple[bool, float | None]]
"""The outbox's question about a failure: can this succeed later without anyone
changing anything, and after how many seconds at least (``None``: no opinion)?"""


def retry_hint(exc: BaseException) -> tuple[bool, float | None]:
    """The plugin's answer to :data:`RetryHint` (see the module docstring)."""
    if isinstance(exc, NeedsReauthorization):
        return True, REAUTH_WAIT
    if isinstance(exc, SalesforceError):
        return exc.is_retryable, exc.retry_after
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError):
        return True, None
    return False, None


def waits_for_admin(last_error: str | None) -> bool:
    """Whether a queued job's last error says it waits for an admin to connect
    (the outbox records errors as ``"<type>: <message>"``)."""
    return bool(last_error) and str(last_error).startswith(f"{NeedsReauthorization.__name__}:")
