"""Periodic upkeep of a worker's streams: lag and pending gauges, trimming what every group
has consumed, removing idle consumers that own nothing, and trimming the dead letters by age
and length."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from sagakit import maintenance
from sagakit.consumer import ConsumerState
from sagakit.dead_letters import DeadLetters
from sagakit.logs import describe, get_logger
from sagakit.metrics import LAG, PENDING

log = get_logger("sagakit.worker")


class Housekeeping:
    def __init__(
        self,
        state: ConsumerState,
        *,
        required_groups: Mapping[str, Sequence[str]],
        trim: bool,
    ) -> None:
        self._state = state
        self._required_groups = required_groups
        self._trim = trim
        self._dead_letters = DeadLetters(state.redis)

    async def run(self) -> None:
        settings = self._state.settings
        interval = min(settings.maintenance_interval_s, settings.trim_interval_s, 5.0)
        next_trim = time.monotonic() + settings.trim_interval_s
        next_cleanup = time.monotonic() + settings.maintenance_interval_s
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for stream in self._state.streams:
                try:
                    await self._tend(stream, trim=now >= next_trim, cleanup=now >= next_cleanup)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("maintenance failed", stream=stream, error=describe(exc))
            if now >= next_trim:
                next_trim = now + settings.trim_interval_s
            if now >= next_cleanup:
                next_cleanup = now + settings.maintenance_interval_s

    async def _tend(self, stream: str, *, trim: bool, cleanup: bool) -> None:
        state = self._state
        await self._publish_gauges(stream)
        if self._trim and trim:
            await maintenance.trim_consumed(
                state.redis,
                stream,
                required_groups=self._required_groups.get(stream, ()),
                exact=state.settings.trim_exact,
            )
        if cleanup:
            removed = await maintenance.remove_idle_consumers(
                state.redis,
                stream,
                state.group,
                idle_ms=state.settings.consumer_cleanup_idle_ms,
                keep=state.consumer,
            )
            if removed:
                log.info("removed idle consumers", stream=stream, consumers=removed)
            # Every replica does this: trimming by age and length is idempotent and cheap.
            dropped = await self._dead_letters.trim(
                stream,
                max_age_ms=int(state.settings.dlq_max_age_s * 1000),
                max_len=state.settings.dlq_max_len,
            )
            if dropped:
                log.info("trimmed dead letters", stream=stream, dropped=dropped)

    async def _publish_gauges(self, stream: str) -> None:
        for stats in await maintenance.group_stats(self._state.redis, stream):
            if stats.group == self._state.group:
                PENDING.labels(stream, self._state.group).set(stats.pending)
                if stats.lag is not None:
                    LAG.labels(stream, self._state.group).set(stats.lag)
