"""Commands issued in one turn of the event loop go to Redis together: one
connection taken from the pool, one write, the replies read in order (#18).

redis-py sends each command on its own: a pool acquire (a condition, a lock and
a check of the connection), a write under ``wait_for`` and a read under a
timer, 70-100 µs of this process's CPU each, while the plugin's
concurrent handoffs issue their store calls in bursts. Here the calls made
before the loop next runs the batch's task share all of that; each still has
its own reply, so an error reply (a failed script, ``NOSCRIPT``) fails only
its own call. A lost connection fails every call of its batch not answered
yet, as it fails a lone call: redis-py's pool here retries nothing, and a
command whose reply was lost may have run.

The commands of a batch are independent (callers that issued them concurrently
could see them run in any order); Redis runs each script atomically, as alone.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class CommandBatcher:
    """``execute(*command)``: the raw reply of one command (no response
    callbacks: bytes, ints, lists, ``None``), sent with the others of its turn."""

    def __init__(self, pool: aioredis.ConnectionPool) -> None:
        self._pool = pool
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._batches: set[asyncio.Task[None]] = set()

    async def execute(self, *command: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((command, future))
        if len(self._pending) == 1:
            # The task first runs on the loop's next turn, when every caller of
            # this turn has added its command.
            batch = asyncio.create_task(self._send())
            self._batches.add(batch)
            batch.add_done_callback(self._batches.discard)
        return await future

    async def _send(self) -> None:
        # A caller cancelled before its command left has it never sent.
        batch = [(command, future) for command, future in self._pending if not future.done()]
        self._pending = []
        if not batch:
            return
        # Bound to a typed name: redis-py leaves get_connection unannotated.
        acquire: Callable[[], Awaitable[AbstractConnection]] = self._pool.get_connection
        try:
            connection = await acquire()
        except BaseException as exc:
            _fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        try:
            encoder = connection.encoder
            await connection.send_packed_command(
                pack([command for command, _ in batch], encoder.encoding, encoder.encoding_errors)
            )
            # One deadline for the batch's replies (the connection's socket
            # timeout), not a timer for each.
            async with asyncio.timeout(connection.socket_timeout):
                for _, future in batch:
                    try:
                        reply = await connection.read_response(timeout=math.inf)
                    except ResponseError as error:  # this command's own failure
                        if not future.done():
                            future.set_exception(error)
                    else:
                        if not future.done():
                            future.set_result(reply)
        except TimeoutError:
            # A reply cut off mid-read: the connection is of no further use.
            await connection.disconnect(nowait=True)
            _fail(batch, RedisTimeoutError("Timeout reading from the Redis server"))
        except BaseException as exc:
            # The connection is closed (redis-py closes it on a failed write or
            # read): the replies not read yet are lost.
            _fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            await self._pool.release(connection)

    async def close(self) -> None:
        """Let the batches under way end (their callers are waiting for them)."""
        while self._batches:
            await asyncio.gather(*self._batches, return_exceptions=True)


def _fail(batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]], exc: BaseException) -> None:
    """Every call of ``batch`` not answered yet fails with ``exc`` (is
    cancelled, if the batch was)."""
    for _, future in batch:
        if future.done():
            continue
        if isinstance(exc, Exception):
            future.set_exception(exc)
        else:
            future.cancel()


def pack(commands: list[tuple[Any, ...]], encoding: str, errors: str) -> list[bytes]:
    """The commands in Redis's wire format, as redis-py's packer writes them for
    the arguments the store sends (``str``, ``bytes``, ``int``), in fewer steps."""
    out: list[bytes] = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            if isinstance(arg, str):
                arg = arg.encode(encoding, errors)
            elif isinstance(arg, int):
                arg = b"%d" % arg
            elif not isinstance(arg, bytes):
                raise TypeError(f"the Redis store sends no {type(arg).__name__}")
            out.append(b"$%d\r\n" % len(arg))
            out.append(arg)
            out.append(b"\r\n")
    return [b"".join(out)]
