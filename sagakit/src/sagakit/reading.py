"""The read loop: XREADGROUP on a dedicated connection, with recovery after start and reconnect.

- BLOCK is shorter than the reader's socket timeout, so a dead connection surfaces as an
  error rather than a hang; COUNT is what `max_in_flight` still allows (backpressure);
- NOGROUP recreates the group, a lost connection is retried with backoff, and readiness is
  false until reads succeed again; the loop catches everything except cancellation;
- each recovery first checks that the server is Redis 6.2 or later: one replaced by an older
  server leaves the worker unready, saying why;
- on start the consumer first re-reads its own pending entries, and after a reconnect it takes
  back the entries pending under its name that it does not hold.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sagakit.backoff import Backoff
from sagakit.connections import is_nogroup
from sagakit.consumer import ConsumerState
from sagakit.intake import Intake, Work
from sagakit.keyed import KeyedScheduler
from sagakit.logs import describe, get_logger
from sagakit.redis_version import require_supported_redis
from sagakit.replies import entries, read_reply

log = get_logger("sagakit.worker")

CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class ReadLoop:
    def __init__(
        self, state: ConsumerState, intake: Intake, scheduler: KeyedScheduler[Work]
    ) -> None:
        self._state = state
        self._intake = intake
        self._scheduler = scheduler
        self._reconnect = Backoff(state.settings.reconnect_base_s, state.settings.reconnect_cap_s)
        self._consuming = False
        self.stopping = False

    async def run(self) -> None:
        state = self._state
        failures = 0
        recover = True
        first_start = True
        new_entries = dict.fromkeys(state.streams, ">")
        while not self.stopping:
            try:
                if recover:
                    await require_supported_redis(state.redis)
                    await self._ensure_groups()
                    if first_start:
                        # Only once: after a reconnect most entries still pending for this
                        # name are this process's own in-flight ones, and re-reading them
                        # would count a delivery for each (dead-lettering them early).
                        await self._recover_own_pending()
                        first_start = False
                    else:
                        await self._reclaim_lost_deliveries()
                    recover = False
                    # Redis answered and the groups exist: ready now, not only once the first
                    # blocking read returns (up to BLOCK later when nothing comes).
                    self._mark_consuming()
                await self._scheduler.wait_for_room()
                room = state.settings.max_in_flight - self._scheduler.size
                response = await state.reader.xreadgroup(
                    state.group,
                    state.consumer,
                    new_entries,  # type: ignore[arg-type]
                    count=max(1, min(state.settings.batch_size, room)),
                    block=state.settings.block_ms,
                )
                self._mark_consuming()
                failures = 0
                for stream, batch in read_reply(response):
                    for entry_id, fields in batch:
                        self._intake.accept(stream, entry_id, fields, attempt=1)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.stopping:  # the reader's socket was closed to end this loop
                    return
                failures, recover = await self._read_failed(exc, failures, recover)

    def _mark_consuming(self) -> None:
        if not self._consuming:
            self._consuming = True
            self._state.health.set(self._state.health_name, True)

    async def _ensure_groups(self) -> None:
        for stream in self._state.streams:
            try:
                await self._state.redis.xgroup_create(
                    stream, self._state.group, id="0", mkstream=True
                )
                log.info("created consumer group", stream=stream, group=self._state.group)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _read_failed(self, exc: Exception, failures: int, recover: bool) -> tuple[int, bool]:
        """React to a failed read; returns the new failure count and whether to recover."""
        group = self._state.group
        if isinstance(exc, ResponseError) and is_nogroup(exc):
            log.warning("consumer group missing, recreating", group=group)
            return failures, True
        failures += 1
        if isinstance(exc, ResponseError):
            await self._degraded(f"redis error: {exc}", failures)
            return failures, recover
        if isinstance(exc, CONNECTION_ERRORS):
            await self._degraded(f"redis unreachable: {exc}", failures)
            return failures, True
        log.error("read loop error", group=group, error=describe(exc), exc_info=exc)
        await self._degraded(f"read loop error: {exc!r}", failures)
        return failures, recover

    async def _degraded(self, reason: str, failures: int) -> None:
        self._consuming = False
        self._state.health.set(self._state.health_name, False, reason)
        delay = self._reconnect.delay(failures)
        log.warning(
            "cannot consume, retrying",
            group=self._state.group,
            reason=reason,
            retry_in_s=round(delay, 2),
        )
        await asyncio.sleep(delay)

    async def _recover_own_pending(self) -> None:
        """Re-read entries this consumer name was given but never acknowledged (a restart)."""
        state = self._state
        for stream in state.streams:
            start = "0"
            while True:
                response = await state.reader.xreadgroup(
                    state.group, state.consumer, {stream: start}, count=state.settings.batch_size
                )
                replies = read_reply(response)
                pending = replies[0][1] if replies else []
                if not pending:
                    break
                await self._intake.accept_redelivered(stream, pending)
                start = pending[-1][0]

    async def _reclaim_lost_deliveries(self) -> None:
        """After a reconnect, take back the entries pending under this name that this process
        does not hold: a read whose reply died with the connection (Redis delivered it, we
        never saw it), or an entry left pending after an error. Otherwise only the claim
        threshold (30 s) would find them, after a saga step's deadline.

        Acks are flushed first, so an entry handled and acknowledged here is not pending any
        more; what remains and is not in flight was lost to this process.
        """
        state = self._state
        if not await state.acker.flush():
            return  # Redis went away again: the next reconnect tries again
        for stream in state.streams:
            rows = await state.redis.xpending_range(
                stream,
                state.group,
                min="-",
                max="+",
                count=state.settings.claim_batch + len(state.in_flight),
                consumername=state.consumer,
            )
            lost: list[Any] = [
                row["message_id"]
                for row in rows
                if (stream, cast(str, row["message_id"])) not in state.in_flight
            ]
            if lost:
                claimed = entries(
                    await state.redis.xclaim(
                        stream, state.group, state.consumer, min_idle_time=0, message_ids=lost
                    )
                )
                # A deleted entry comes back as a nil (6.2) or not at all (7, which also drops
                # it from the pending list): either way it has nothing left to handle.
                present = [(i, f) for i, f in claimed if i is not None and f]
                returned = {i for i, _ in present}
                state.ack_deleted(stream, [i for i in lost if i not in returned])
                log.info("took back entries lost to a reconnect", stream=stream, count=len(lost))
                await self._intake.accept_redelivered(stream, present)
