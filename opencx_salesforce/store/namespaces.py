"""Where the plugin keeps its state in the host's store: every namespace, named
once. Each belongs to one module; the others go through that module."""

from __future__ import annotations

AUTH = "salesforce"  # credentials, the grant, the encryption key (salesforce/tokens, secrets)
STATE = "salesforce.state"  # per-install secrets: the webhook token, the CSRF key
CASES = "salesforce.cases"  # the Case index (cases/index.py)
OPEN_CASES = "salesforce.open_cases"  # the list of open Cases (cases/open_cases.py)
# The Cases closed each day, one namespace a day: CLOSED + ".2026-12-07" (cases/closed_days.py)
CLOSED = "salesforce.closed"
RETENTION = "salesforce.retention"  # the retention pass's turn and progress (retention/)
DESCRIBE = "salesforce.describe"  # the cached Case describe (cases/fields.py)
REPLIES = "salesforce.replies"  # the reply ledger and the sweep's cursor (replies/)
LOCKS = "salesforce.locks"  # locks shared by host instances (store/lock.py)
OUTBOX = "salesforce.outbox"  # the outbox queue (outbox/queue.py)
WEBHOOK_SEEN = "salesforce.webhook_seen"  # signatures already accepted (replies/replay.py)
LIVE = "salesforce.live"  # live chats, their streams and delivered entries (live/)
