"""The durable queue of outgoing work and its retry policy.

* :mod:`.queue`  jobs in the host store, the workers that do them, backoff and
  dead letters; each area registers the job kinds it handles
* :mod:`.policy` the one retry policy: which failures are worth another try
"""

from opencx_salesforce.errors import PermanentFailure, RetryLater
from opencx_salesforce.outbox.policy import retry_hint
from opencx_salesforce.outbox.queue import EncodedJSON, Job, Outbox, OutboxSettings, Submitted

__all__ = [
    "EncodedJSON",
    "Job",
    "Outbox",
    "OutboxSettings",
    "PermanentFailure",
    "RetryLater",
    "Submitted",
    "retry_hint",
]
