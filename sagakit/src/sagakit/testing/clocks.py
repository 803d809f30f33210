"""Clocks for tests: a node whose local clock is off (no RTC), synced with the test Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from sagakit.clock import Clock, local_monotonic_ms, local_wall_ms
from sagakit.clock_sync import ClockSync

TEN_MINUTES_MS = 600_000.0


def skewed_clock(skew_ms: float) -> Clock:
    """A clock whose local sources (wall and monotonic) are `skew_ms` off this machine's."""
    return Clock(
        wall_ms=lambda: local_wall_ms() + skew_ms,
        monotonic_ms=lambda: local_monotonic_ms() + skew_ms,
    )


async def synced_clock(redis: Redis, *, skew_ms: float = 0.0) -> Clock:
    """A clock of another process, synced with `redis` (not installed)."""
    clock = skewed_clock(skew_ms)
    await ClockSync(redis.time, clock=clock).sync()
    return clock
