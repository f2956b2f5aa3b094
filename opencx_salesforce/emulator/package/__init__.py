"""The generated Salesforce package, deployed in an emulated org, and the bit of the
Apex runtime it needs.

**Deployed** means what ``sf project deploy`` of the generated project leaves in an
org: the Apex class and test class, the three triggers (two for a package without
email; Status Active), and the Named Credential ``OpenCX_Integration`` whose Endpoint
is the webhook URL (read from the generated XML, current or legacy form). The
signing secret (a Custom Metadata record in a real org) is kept by the runtime.
:func:`deploy_package` puts all of that in place from the real templates; a test
breaks any part with the org's own metadata methods (a trigger redeployed
Inactive, the Named Credential pointing elsewhere, the class removed), and the
emulator then behaves as that org would.

**Triggers.** :class:`ApexRuntime` listens to the org's record writes
(``Org.listeners``) and does what the generated Apex does
(``apex/templates/OpenSalesforceCaseManagement.cls.j2``), filter for filter:

* CaseComment after insert: ``IsPublished`` comments on Cases whose
  ``Case_From__c`` is the package's value ("opencx") → ``case_comment.created``;
* CaseComment after update: ``IsPublished`` switched from false to true on such a
  Case → ``case_comment.published``;
* EmailMessage after insert: ``Incoming != true``, not a draft (Status '5'), with a
  parent on such a Case → ``email_message.created``;
* EmailMessage after update: such an email that was a draft and is no longer (sent)
  → ``email_message.sent``;
* Case after update: ``Status`` or ``IsClosed`` changed on such a Case →
  ``case.updated``;
* Case after delete: such a Case deleted, by hand or by losing a merge →
  ``case.deleted`` with ``masterRecordId`` (the winner, or null);

with Apex's case-insensitive string ``==``, one ring per ``event:recordId`` per
transaction, and one Queueable job per trigger invocation (at most 50 per
transaction). [src: apexcode langCon_apex_expressions_operators_understanding.htm
"String comparison using == is case-insensitive" (quoted in salesforce.stackexchange
question 226832); apex_gov_limits.htm]

**Transactions.** Callouts happen after commit, in the job; a rolled-back write
enqueues nothing. A transaction here is what one asyncio task writes before it
next yields to the event loop: the REST handlers and composite requests do all
their writes (and ``Org.restore`` on rollback) without yielding, so the commit is
scheduled with ``loop.call_soon`` and a restore seen before it (``Change.undone``)
takes the rolled-back writes' doorbells back out. Consecutive writes of one object
and operation in a transaction count as one trigger invocation (one job), as when
Salesforce bulkifies a collection or collated composite subrequests.

**Jobs and callouts.** Each job waits (fault knobs), then POSTs one callout per
doorbell, in order, to the Named Credential's Endpoint as it is at callout time:
the contract's body and headers (:mod:`opencx_salesforce.apex.contract`), a 10 s
timeout, redirects not followed; the platform retries nothing. A job makes at
most 100 callouts, and none that could overrun the 120 s callout budget; the rest
go to a chained job. A failed callout (no answer, or not 2xx) is logged
(``ApexRuntime.log``) and, as the class does, sent again by a job of its own 1, 2,
5 and 10 minutes later on the org's clock (``RETRY_DELAYS_MINUTES``; a test moves
the clock), then dropped. [src: apexcode apex_callouts_timeouts.htm; SALESFORCE.md
§7; apexref apex_class_System_AsyncOptions.htm]

**Anonymous Apex.** ``GET tooling/executeAnonymous/?anonymousBody=...`` is served
for every org the runtime is installed on: ``OpenSalesforceCaseManagement.ping();``
sends a ping synchronously, as ``doctor`` expects; ``OpenCXDigest.start();`` and
``stop();`` schedule and unschedule the digest (:mod:`.digest`: once a minute on the
org's clock, the changes on OpenCX Cases of the last minutes in one callout); a
missing class is the
compiler's "Variable does not exist"; any other code is refused as unsupported.
[src: api sforce_api_calls_executeanonymous_result.htm]
"""

from __future__ import annotations

from opencx_salesforce.emulator.package.callouts import (
    NAMED_CREDENTIAL_MISSING,
    TIMED_OUT,
    UNREACHABLE,
    USER_AGENT,
)
from opencx_salesforce.emulator.package.deploy import deploy_package
from opencx_salesforce.emulator.package.deployment import Deployment, deployment_of
from opencx_salesforce.emulator.package.model import (
    CALLOUT_TIME_BUDGET_SECONDS,
    CALLOUT_TIMEOUT_SECONDS,
    DELIVERED,
    DROPPED,
    FAILED,
    LOG_LENGTH,
    MAX_CALLOUTS_PER_JOB,
    MAX_JOBS_PER_TRANSACTION,
    SKIPPED,
    CalloutRecord,
    Doorbell,
    PackageFaults,
    WebhookCounters,
)
from opencx_salesforce.emulator.package.runtime import (
    ApexRuntime,
    apex_runtime,
    find_runtime,
    iter_runtimes,
)

__all__ = [
    "CALLOUT_TIMEOUT_SECONDS",
    "CALLOUT_TIME_BUDGET_SECONDS",
    "DELIVERED",
    "DROPPED",
    "FAILED",
    "LOG_LENGTH",
    "MAX_CALLOUTS_PER_JOB",
    "MAX_JOBS_PER_TRANSACTION",
    "NAMED_CREDENTIAL_MISSING",
    "SKIPPED",
    "TIMED_OUT",
    "UNREACHABLE",
    "USER_AGENT",
    "ApexRuntime",
    "CalloutRecord",
    "Deployment",
    "Doorbell",
    "PackageFaults",
    "WebhookCounters",
    "apex_runtime",
    "deploy_package",
    "deployment_of",
    "find_runtime",
    "iter_runtimes",
]
