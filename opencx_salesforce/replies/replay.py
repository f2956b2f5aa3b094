"""The webhook's replay cache: every signature seen within the timestamp window,
kept in the shared store so that one captured signed call cannot be sent again,
to this instance or to another one on the same store.

A signature covers the timestamp and the body, and a call is only accepted while
its timestamp is within ``tolerance`` of now (either side), so a signature is
worth remembering for ``2 × tolerance`` at most; the store forgets it after
that (its TTL). The first call with a signature wins (``set_if_absent``, atomic
on every store), whichever instance it reaches.

Two calls the org itself makes are never byte-identical unless they announce the
same event on the same record within the same second; the second one says
nothing the first did not, and a lost doorbell is found by the sweep anyway.
"""

from __future__ import annotations

import hashlib

from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

NAMESPACE = namespaces.WEBHOOK_SEEN


async def first_sighting(store: Store, signature: str, *, tolerance_seconds: float) -> bool:
    """Record ``signature`` (a valid one: record only what passed the check, so
    a stranger cannot fill the cache) and say whether it is new."""
    # A digest as the key: fixed length, and the signature itself is not kept.
    key = hashlib.sha256(signature.strip().encode("ascii", "replace")).hexdigest()
    return await store.set_if_absent(NAMESPACE, key, b"1", ttl=2 * tolerance_seconds + 1)
