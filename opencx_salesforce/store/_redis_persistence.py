"""Does a Redis server keep its data across a restart? ``CONFIG GET appendonly``
and ``save``: with neither, a restart (or a failover to a replica that had
nothing) empties the store, and the plugin's queue and grant with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError


@dataclass(frozen=True)
class Persistence:
    appendonly: bool | None  # the append-only file is on
    save: str | None  # RDB snapshot rules ("" : none), e.g. "3600 1 300 100"
    error: str | None = None  # why it could not be read

    @property
    def keeps_data(self) -> bool | None:
        """True: a restart keeps (most of) the data; None: cannot tell."""
        if self.appendonly is None or self.save is None:
            return None
        return self.appendonly or bool(self.save.strip())


def _config_value(answer: Any, name: str) -> str | None:
    value = answer.get(name, answer.get(name.encode())) if isinstance(answer, dict) else None
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


async def read_persistence(client: aioredis.Redis) -> Persistence:
    """The server's persistence settings; ``error`` when it cannot tell (CONFIG
    disabled or renamed, as managed services often do)."""
    try:
        appendonly = await client.config_get("appendonly")
        save = await client.config_get("save")
    except RedisError as exc:
        return Persistence(None, None, str(exc))
    aof = _config_value(appendonly, "appendonly")
    snapshots = _config_value(save, "save")
    return Persistence(
        None if aof is None else aof.lower() == "yes",
        snapshots,
        None if aof is not None and snapshots is not None else "CONFIG GET answered nothing",
    )
