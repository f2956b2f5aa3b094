"""The shared store: several host instances on one Redis.

Every key lives under ``prefix`` (``opencx:`` by default), so several stores, and
the test suite, can share one server. Names inside it (``%`` and ``:`` in a
namespace or queue name are percent-escaped, so ``("a:b", "c")`` and
``("a", "b:c")`` cannot collide)::

    {prefix}kv:{ns}:{key}       string: the value; TTL is Redis's own expiry
    {prefix}kvidx:{ns}          zset: key -> expiry (ms, server clock; +inf: none),
                                so ``keys`` never SCANs the whole server
    {prefix}q:{queue}:due       zset: item -> available_at, ready and leased items
                                (a lease's deadline is its available_at)
    {prefix}q:{queue}:enq       zset: item -> enqueued_at, every item (membership)
    {prefix}q:{queue}:dead      zset: item -> buried at
    {prefix}q:{queue}:payload   hash: item -> payload
    {prefix}q:{queue}:attempts  hash: item -> times leased
    {prefix}q:{queue}:token     hash: item -> current lease token (only while leased)
    {prefix}q:{queue}:error     hash: item -> last error
    {prefix}wake                pub/sub channel: a queue's name, when work arrives

Every read-modify-write is one Lua script (:mod:`._redis_scripts`), so it is
atomic on the server. Every time is the server's (``TIME``, read inside the
script): key expiry, the key index, when an item is due, a lease's deadline, an
item's age. Callers pass delays, never instants, so an instance whose clock runs
minutes ahead cannot take a live lease or see work due early.

Sending: the commands that concurrent callers issue in one turn of the event
loop go out together, in one write on one pooled connection, each with its own
reply (:mod:`._redis_batch`).

Waking workers: enqueue, retry, revive and hurry publish the queue's name on the
``wake`` channel; each store subscribes (once, on its first ``wait``) and wakes
its local waiters, so a worker in another process is woken at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import NoScriptError, RedisError

from opencx_salesforce.log_throttle import LogThrottle, also
from opencx_salesforce.store import _redis_scripts as lua
from opencx_salesforce.store._redis_batch import CommandBatcher
from opencx_salesforce.store._redis_persistence import Persistence, read_persistence
from opencx_salesforce.store._rules import (
    check_delay,
    check_lease,
    check_ttl,
    new_token,
    visible_state,
)
from opencx_salesforce.store._wakeup import Wakeups, wait_until_due
from opencx_salesforce.store.base import ItemState, Lease, QueueItem

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 50  # per store object, see RedisStore.open
POOL_TIMEOUT = 10.0  # seconds a call waits for a free connection


def _escape(name: str) -> str:
    return name.replace("%", "%25").replace(":", "%3A")


def _ttl_ms(ttl: float | None) -> str:
    check_ttl(ttl)
    # PX takes whole milliseconds; round up so a tiny TTL is not "expire now".
    return "" if ttl is None else str(max(1, math.ceil(ttl * 1000)))


def _seconds(value: float) -> str:
    """repr round-trips a float exactly into the script."""
    return repr(float(value))


class RedisStore:
    """A :class:`~opencx_salesforce.store.base.Store` on a Redis server. Open it
    with :meth:`open`."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._redis = client
        self._batch = CommandBatcher(client.connection_pool)
        self.prefix = prefix
        self._wake_channel = f"{prefix}wake"
        self._wakeups = Wakeups()
        self._channel_losses = LogThrottle()  # one warning in a while, not two a second
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listen_lock = asyncio.Lock()
        scripts = {
            "set": lua.SET,
            "set_many": lua.SET_MANY,
            "set_if_absent": lua.SET_IF_ABSENT,
            "compare_and_set": lua.COMPARE_AND_SET,
            "delete": lua.DELETE,
            "keys": lua.KEYS,
            "enqueue": lua.ENQUEUE,
            "lease": lua.LEASE,
            "ack": lua.ACK,
            "retry_in": lua.RETRY_IN,
            "bury": lua.BURY,
            "revive": lua.REVIVE,
            "hurry": lua.HURRY,
            "until_due": lua.UNTIL_DUE,
        }
        self._scripts = {name: client.register_script(body) for name, body in scripts.items()}

    @classmethod
    async def open(cls, url: str, *, prefix: str = "opencx:") -> RedisStore:
        """Connect to ``url`` (``redis://host:port/db``, ``rediss://…``,
        ``unix://…``) and check the server answers.

        The connections are a pool of at most ``max_connections`` (50; the URL's
        ``?max_connections=`` sets it) that a batch of calls (:mod:`._redis_batch`)
        *waits* for when all are busy (up to ``pool_timeout``, 10 s;
        ``?timeout=``). redis-py's default pool
        raises "Too many connections" past 100 instead: under 100 concurrent
        handoffs that failed store calls, and the retries made Redis the
        slowest store (60 handoffs/s, #18)."""
        # Options in the URL win over these defaults (redis-py's from_url).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT
        )
        client = aioredis.Redis(connection_pool=pool)
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            await pool.disconnect()
            raise
        return cls(client, prefix=prefix)

    async def _call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        code = self._scripts[script]
        try:
            return await self._batch.execute("EVALSHA", code.sha, len(keys), *keys, *args)
        except NoScriptError:
            # The server has lost its scripts (a restart, SCRIPT FLUSH): the
            # script object loads this one and runs it again.
            return await code(keys=keys, args=args)

    # --- key/value -------------------------------------------------------------
    def _kv_keys(self, ns: str, key: str) -> list[str]:
        return [f"{self.prefix}kv:{_escape(ns)}:{key}", self._index(ns)]

    def _index(self, ns: str) -> str:
        return f"{self.prefix}kvidx:{_escape(ns)}"

    async def get(self, ns: str, key: str) -> bytes | None:
        # decode_responses is off: Redis hands back bytes.
        return cast("bytes | None", await self._batch.execute("GET", self._kv_keys(ns, key)[0]))

    async def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """One MGET (in the round trip of this turn's other commands)."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        names = [self._kv_keys(ns, key)[0] for key in unique]
        values = cast("list[bytes | None]", await self._batch.execute("MGET", *names))
        return {key: value for key, value in zip(unique, values, strict=True) if value is not None}

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await self._call("set", self._kv_keys(ns, key), [key, value, _ttl_ms(ttl)])

    async def set_many(
        self, ns: str, values: Mapping[str, bytes], *, ttl: float | None = None
    ) -> None:
        ttl_ms = _ttl_ms(ttl)
        if not values:
            return
        names = list(values)
        keys = [self._index(ns)] + [self._kv_keys(ns, key)[0] for key in names]
        await self._call("set_many", keys, [ttl_ms, *names, *values.values()])

    async def set_if_absent(
        self, ns: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        args = [key, value, _ttl_ms(ttl)]
        return bool(await self._call("set_if_absent", self._kv_keys(ns, key), args))

    async def compare_and_set(
        self,
        ns: str,
        key: str,
        expected: bytes | None,
        new: bytes | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        args = [
            key,
            "0" if expected is None else "1",
            b"" if expected is None else expected,
            "0" if new is None else "1",
            b"" if new is None else new,
            _ttl_ms(ttl),
        ]
        return bool(await self._call("compare_and_set", self._kv_keys(ns, key), args))

    async def delete(self, ns: str, key: str) -> bool:
        return bool(await self._call("delete", self._kv_keys(ns, key), [key]))

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        members = await self._call("keys", [self._index(ns)], [])
        found = (member.decode() for member in members)
        return sorted(key for key in found if key.startswith(prefix))

    # --- queue -----------------------------------------------------------------
    def _queue_keys(self, queue: str) -> list[str]:
        return [f"{self.prefix}q:{_escape(queue)}:{part}" for part in lua.QUEUE_PARTS]

    async def enqueue(
        self, queue: str, item_id: str, payload: bytes, *, delay: float = 0.0
    ) -> bool:
        check_delay(delay)
        args = [item_id, payload, _seconds(delay), self._wake_channel, queue, ""]
        return bool(await self._call("enqueue", self._queue_keys(queue), args))

    async def enqueue_leased(
        self, queue: str, item_id: str, payload: bytes, *, visibility_timeout: float
    ) -> Lease | None:
        check_lease(visibility_timeout, 1)
        token = new_token()
        args = [item_id, payload, _seconds(visibility_timeout), self._wake_channel, queue, token]
        if not await self._call("enqueue", self._queue_keys(queue), args):
            return None
        return Lease(queue, item_id, payload, 1, token, 0.0)

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        check_lease(visibility_timeout, limit)
        args = [_seconds(visibility_timeout), limit, new_token()]
        with self._wakeups.leasing(queue):
            flat = await self._call("lease", self._queue_keys(queue), args)
        return [
            Lease(
                queue, item_id.decode(), bytes(payload), int(attempts), token.decode(), float(age)
            )
            for item_id, payload, attempts, token, age in zip(*[iter(flat)] * 5, strict=True)
        ]

    async def ack(self, lease: Lease) -> bool:
        args = [lease.item_id, lease.token]
        return bool(await self._call("ack", self._queue_keys(lease.queue), args))

    async def retry_in(self, lease: Lease, delay: float, *, error: str | None = None) -> bool:
        check_delay(delay)
        args = [
            lease.item_id,
            lease.token,
            _seconds(delay),
            "0" if error is None else "1",
            error or "",
            self._wake_channel,
            lease.queue,
        ]
        return bool(await self._call("retry_in", self._queue_keys(lease.queue), args))

    async def bury(self, lease: Lease, *, error: str) -> bool:
        args = [lease.item_id, lease.token, error]
        return bool(await self._call("bury", self._queue_keys(lease.queue), args))

    async def revive(self, queue: str, item_id: str) -> bool:
        args = [item_id, self._wake_channel, queue]
        return bool(await self._call("revive", self._queue_keys(queue), args))

    async def hurry(self, queue: str, item_id: str) -> bool:
        args = [item_id, self._wake_channel, queue]
        return bool(await self._call("hurry", self._queue_keys(queue), args))

    async def items(self, queue: str, state: ItemState | None = None) -> list[QueueItem]:
        due, enq, dead, payload, attempts, token, error = self._queue_keys(queue)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(enq, 0, -1, withscores=True)
            pipe.zrange(due, 0, -1, withscores=True)
            pipe.zrange(dead, 0, -1, withscores=True)
            pipe.hgetall(payload)
            pipe.hgetall(attempts)
            pipe.hgetall(token)
            pipe.hgetall(error)
            pipe.time()
            (
                enqueued,
                due_at,
                dead_at,
                payloads,
                counts,
                tokens,
                errors,
                clock,
            ) = await pipe.execute()
        due_at, dead_at = dict(due_at), dict(dead_at)
        now = clock[0] + clock[1] / 1_000_000  # the server's clock, as the scripts
        found = []
        for item_id, enqueued_at in enqueued:
            if item_id in dead_at:
                shown, available_at = ItemState.DEAD, dead_at[item_id]
            else:
                stored = ItemState.LEASED if item_id in tokens else ItemState.READY
                available_at = due_at[item_id]
                shown = visible_state(stored, available_at, now)
            if state is None or shown is state:
                last_error = errors.get(item_id)
                found.append(
                    QueueItem(
                        item_id=item_id.decode(),
                        payload=bytes(payloads[item_id]),
                        state=shown,
                        attempts=int(counts[item_id]),
                        available_at=float(available_at),
                        enqueued_at=float(enqueued_at),
                        last_error=None if last_error is None else last_error.decode(),
                    )
                )
        return found

    async def _until_due(self, queue: str) -> float | None:
        answer = await self._call("until_due", self._queue_keys(queue), [])
        return float(answer) if answer else None

    async def wait(self, queue: str, timeout: float) -> None:
        await self._ensure_listening()
        await wait_until_due(self._wakeups, queue, timeout, lambda: self._until_due(queue))

    async def _ensure_listening(self) -> None:
        """Subscribe to the wake-up channel once, and confirm it before the first
        wait looks at a queue: a publish after that point cannot be missed."""
        async with self._listen_lock:
            if self._listener is not None:
                return
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(self._wake_channel)
            while (message := await pubsub.get_message(timeout=5.0)) is not None:
                if message["type"] == "subscribe":
                    break
            else:
                await _close(pubsub)
                raise RedisError(f"no confirmation of SUBSCRIBE {self._wake_channel}")
            self._pubsub = pubsub
            self._listener = asyncio.create_task(
                self._listen(pubsub), name=f"{self._wake_channel} listener"
            )

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._wakeups.notify(message["data"].decode())
                return  # unsubscribed: nothing more will come
            except Exception as exc:
                # The client reconnects and resubscribes on the next read; until
                # then wake everyone, since a notification may have been lost.
                report = self._channel_losses.due()
                if report is not None:
                    log.warning(
                        "lost the store wake-up channel (%s); reconnecting%s", exc, also(report)
                    )
                self._wakeups.notify_all()
                await asyncio.sleep(0.5)

    async def persistence(self) -> Persistence:
        """Whether the server keeps its data across a restart, for ``doctor``."""
        return await read_persistence(self._redis)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        await self._batch.close()
        if self._pubsub is not None:
            await _close(self._pubsub)
            self._pubsub = None
        await self._redis.aclose()
        # A pool handed to the client is not the client's to close.
        await self._redis.connection_pool.disconnect()


async def _close(pubsub: PubSub) -> None:
    """Close a PubSub whether or not this redis-py release annotates ``aclose``:
    binding it to a typed name type-checks both ways, where an ``ignore`` would be
    reported as unused by the release that adds the annotation."""
    aclose: Callable[[], Awaitable[None]] = pubsub.aclose
    await aclose()
