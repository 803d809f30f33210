"""Claim recovery: take over entries other consumers abandoned, and keep our own looking alive.

Every `claim_interval_s` the worker renews the entries it holds (XCLAIM JUSTID to itself, so
no other consumer's claim takes over work still being done), then XAUTOCLAIMs entries idle
longer than `claim_idle_ms` from any consumer (a crashed one) and acknowledges the ids Redis
reports as deleted.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from redis.exceptions import ResponseError

from sagakit.connections import is_nogroup
from sagakit.consumer import ConsumerState
from sagakit.intake import Intake, Work
from sagakit.keyed import KeyedScheduler
from sagakit.logs import describe, get_logger
from sagakit.metrics import CLAIMED
from sagakit.replies import autoclaim_reply

log = get_logger("sagakit.worker")


class Claimer:
    def __init__(
        self, state: ConsumerState, intake: Intake, scheduler: KeyedScheduler[Work]
    ) -> None:
        self._state = state
        self._intake = intake
        self._scheduler = scheduler
        self.stopping = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._state.settings.claim_interval_s)
            for stream in self._state.streams:
                try:
                    await self._renew_held(stream)
                    await self.claim_idle(stream)
                except asyncio.CancelledError:
                    raise
                except ResponseError as exc:
                    if not is_nogroup(exc):  # a missing group is the read loop's to recreate
                        log.warning("claim failed", stream=stream, error=str(exc))
                except Exception as exc:
                    log.warning("claim failed", stream=stream, error=describe(exc))

    async def _renew_held(self, stream: str) -> None:
        """Keep entries this worker holds (queued behind their key, running, waiting to retry)
        from looking idle, so no consumer's claim takes over work that is still being done.

        XCLAIM JUSTID to ourselves resets an entry's idle time without counting a delivery.
        """
        state = self._state
        held: list[Any] = [entry_id for s, entry_id in state.in_flight if s == stream]
        for start in range(0, len(held), 500):
            await state.redis.xclaim(
                stream,
                state.group,
                state.consumer,
                min_idle_time=state.settings.claim_idle_ms // 2,
                message_ids=held[start : start + 500],
                justid=True,
            )

    async def claim_idle(self, stream: str) -> None:
        state = self._state
        cursor = "0-0"
        for _ in range(10):
            if self.stopping or self._scheduler.size >= state.settings.max_in_flight:
                return
            start = cursor
            cursor, claimed, deleted = autoclaim_reply(
                await state.redis.xautoclaim(
                    stream,
                    state.group,
                    state.consumer,
                    min_idle_time=state.settings.claim_idle_ms,
                    start_id=cursor,
                    count=state.settings.claim_batch,
                )
            )
            state.ack_deleted(stream, deleted)
            if any(cast(str | None, entry_id) is None for entry_id, _ in claimed):
                # Redis < 7 claims an entry deleted while pending as a nil without its id and
                # keeps it pending (blocking trimming forever): find those and acknowledge them.
                claimed = [(i, f) for i, f in claimed if cast(str | None, i) is not None]
                await self._ack_deleted_claims(stream, start, cursor, {i for i, _ in claimed})
            if claimed:
                CLAIMED.labels(stream, state.group).inc(len(claimed))
                log.info("claimed idle entries", stream=stream, count=len(claimed))
                await self._intake.accept_redelivered(stream, claimed)
            if cursor == "0-0":
                return

    async def _ack_deleted_claims(
        self, stream: str, start: str, end: str, claimed: set[str]
    ) -> None:
        """Acknowledge the entries of ours in [start, end) that no longer exist in the stream."""
        state = self._state
        owned = await state.redis.xpending_range(
            stream,
            state.group,
            min=start,
            max="+" if end == "0-0" else f"({end}",
            count=state.settings.claim_batch + len(state.in_flight),
            consumername=state.consumer,
        )
        ids = [cast(str, row["message_id"]) for row in owned]
        candidates = [i for i in ids if i not in claimed and (stream, i) not in state.in_flight]
        if not candidates:
            return
        async with state.redis.pipeline(transaction=False) as pipe:
            for entry_id in candidates:
                pipe.xrange(stream, min=entry_id, max=entry_id, count=1)
            found = await pipe.execute()
        # verified gone, so acknowledging loses nothing
        state.ack_deleted(
            stream, [i for i, rows in zip(candidates, found, strict=True) if not rows]
        )
