"""Appending messages to streams. Concurrent publishes coalesce into one pipelined round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

from sagakit.envelope import Envelope
from sagakit.metrics import PUBLISHED

Outgoing = tuple[str, Envelope]
RawOutgoing = tuple[str, Mapping[str, str]]


class Publisher:
    """XADD with opportunistic batching.

    While one pipeline is in flight, further publishes queue up and go out together in the
    next one, so a busy process makes one round trip per batch instead of one per message,
    and an idle one adds no delay.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queue: list[tuple[Sequence[RawOutgoing], asyncio.Future[list[str]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def publish(self, stream: str, envelope: Envelope) -> str:
        return (await self.publish_many([(stream, envelope)]))[0]

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[str]:
        return await self.publish_many_raw([(s, e.to_fields()) for s, e in messages])

    async def publish_many_raw(self, messages: Sequence[RawOutgoing]) -> list[str]:
        """Append already-encoded entries (the outbox stores them encoded)."""
        if not messages:
            return []
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._queue.append((messages, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_until_empty())
        return await future

    async def _flush_until_empty(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for messages, _ in batch:
                        for stream, fields in messages:
                            pipe.xadd(stream, dict(fields))  # type: ignore[arg-type]
                    ids: list[str] = await pipe.execute()
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            offset = 0
            for messages, future in batch:
                for stream, _ in messages:
                    PUBLISHED.labels(stream).inc()
                if not future.done():
                    future.set_result(ids[offset : offset + len(messages)])
                offset += len(messages)
