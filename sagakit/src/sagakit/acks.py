"""Acknowledgements, buffered per stream and sent as one pipelined round trip."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sagakit.connections import is_nogroup
from sagakit.logs import get_logger

log = get_logger("sagakit.acks")


class Acker:
    """Collects ids to XACK; a flush sends everything collected so far in one pipeline.

    While a flush is in flight, new acks accumulate for the next one, so the batch size adapts
    to the load without a timer. Acks that fail on a lost connection are kept and retried;
    acks for a group that no longer exists are dropped (there is nothing left to acknowledge).
    """

    def __init__(self, redis: Redis, group: str) -> None:
        self._redis = redis
        self._group = group
        self._buffer: dict[str, list[str]] = {}
        self._wakeup = asyncio.Event()
        # One flush at a time: when flush() returns True, every ack made before the call has
        # reached Redis, including those another flush was sending.
        self._flushing = asyncio.Lock()

    def ack(self, stream: str, entry_id: str) -> None:
        self._buffer.setdefault(stream, []).append(entry_id)
        self._wakeup.set()

    @property
    def buffered(self) -> int:
        return sum(len(ids) for ids in self._buffer.values())

    async def run(self, retry_delay_s: float = 0.2) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not await self.flush():
                await asyncio.sleep(retry_delay_s)
                self._wakeup.set()

    async def flush(self) -> bool:
        """Send every buffered ack; False when some must be retried later."""
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> bool:
        if not self._buffer:
            return True
        batch, self._buffer = self._buffer, {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for stream, ids in batch.items():
                    pipe.xack(stream, self._group, *ids)
                results = await pipe.execute(raise_on_error=False)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self._requeue(batch)
            log.warning("ack flush failed, will retry", error=str(exc), pending_acks=self.buffered)
            return False
        except BaseException:  # cancelled mid-flush (stop): keep the batch for the final flush
            self._requeue(batch)
            raise
        for (stream, ids), result in zip(batch.items(), results, strict=True):
            if isinstance(result, ResponseError) and not is_nogroup(result):
                self._buffer.setdefault(stream, []).extend(ids)
                log.warning("ack rejected, will retry", stream=stream, error=str(result))
        return not self._buffer

    def _requeue(self, batch: dict[str, list[str]]) -> None:
        for stream, ids in batch.items():
            self._buffer.setdefault(stream, [])[:0] = ids
