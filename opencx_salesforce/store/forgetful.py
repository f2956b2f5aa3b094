"""Does the store forget everything when its server restarts? A Redis server
with neither an append-only file nor snapshot rules does: the plugin's queue,
its Salesforce connection and the Cases' links go with a restart. ``doctor``
fails its store check on it; a host starting on such a store says so too, in
its log, where an operator who never runs ``doctor`` reads it."""

from __future__ import annotations

import logging

from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

FORGETS = (
    'The Redis store has no persistence (appendonly no, save ""): a restart of Redis '
    "loses the plugin's queue, its Salesforce connection and the Cases' links. Turn it "
    "on: CONFIG SET appendonly yes (and in redis.conf), or save rules; see 'The store "
    "lost its data' in docs/troubleshooting.md."
)


async def warn_if_forgetful(store: Store) -> bool:
    """Log a warning when the store's server keeps nothing across a restart;
    whether it did. A server that will not tell (``CONFIG`` refused, as managed
    services do) is not warned about: ``doctor`` says it cannot check."""
    read_persistence = getattr(store, "persistence", None)  # Redis only
    if read_persistence is None:
        return False
    kept = await read_persistence()
    if kept.keeps_data is not False:
        return False
    log.warning(FORGETS)
    return True
