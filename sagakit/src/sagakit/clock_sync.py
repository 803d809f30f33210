"""Measures the offset between local monotonic time and the Redis server's `TIME`.

A sample brackets one `TIME` call between two monotonic readings; the server read its clock
somewhere inside that round trip, at best estimate in its middle, so
`offset = server_ms + rtt / 2 - monotonic_at_receipt`, with an error of at most rtt / 2. Of a
few samples the one with the smallest round trip wins (a sample delayed by a busy event loop or
connection pool is the least accurate). `ClockSync` is the component that keeps the process's
clock synced: the service start awaits `sync()` (its startup hooks retry until Redis answers),
then `start()` refreshes it periodically. A refresh that fails (Redis unreachable, or only slow
samples) keeps the last offset: monotonic time keeps running, so the clock only drifts as
slowly as the local oscillator does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sagakit.clock import Clock, default_clock
from sagakit.lifecycle import Periodic
from sagakit.logs import get_logger

log = get_logger("sagakit.clock_sync")

ServerTime = Callable[[], Awaitable[tuple[int, int]]]  # (seconds, microseconds), as Redis TIME


class ClockSyncError(Exception):
    """No sample was accurate enough to adopt."""


@dataclass(frozen=True, slots=True)
class Sample:
    offset_ms: float  # server time = monotonic time + offset
    rtt_ms: float


async def sample_offset(server_time: ServerTime, clock: Clock) -> Sample:
    sent = clock.monotonic_ms()
    seconds, micros = await server_time()
    received = clock.monotonic_ms()
    rtt = received - sent
    server_ms = seconds * 1000 + micros / 1000
    return Sample(offset_ms=server_ms + rtt / 2 - received, rtt_ms=rtt)


async def measure_offset(server_time: ServerTime, clock: Clock, *, samples: int = 5) -> Sample:
    """The sample with the smallest round trip among `samples`."""
    best = await sample_offset(server_time, clock)
    for _ in range(samples - 1):
        sample = await sample_offset(server_time, clock)
        if sample.rtt_ms < best.rtt_ms:
            best = sample
    return best


class ClockSync:
    """Syncs a clock (by default the process's) with the server's; a component."""

    def __init__(
        self,
        server_time: ServerTime,
        *,
        clock: Clock | None = None,
        interval_s: float = 60.0,
        samples: int = 5,
        max_rtt_ms: float = 1_000.0,
        name: str = "clock-sync",
    ) -> None:
        self._server_time = server_time
        self._clock = clock
        self._samples = samples
        self._max_rtt_ms = max_rtt_ms
        self._refresh = Periodic(name, self.sync, interval_s)

    @property
    def clock(self) -> Clock:
        # Resolved at each sync, so a clock installed by a test is the one synced.
        return self._clock or default_clock()

    async def sync(self) -> Sample:
        """Measure and adopt the offset; raises (and keeps the last offset) on failure."""
        clock = self.clock
        best = await measure_offset(self._server_time, clock, samples=self._samples)
        if best.rtt_ms > self._max_rtt_ms:
            raise ClockSyncError(f"best of {self._samples} round trips took {best.rtt_ms:.0f} ms")
        first = not clock.synced
        clock.adopt(best.offset_ms)
        if first:
            log.info(
                "clock synced with the Redis server",
                local_wall_behind_ms=round(clock.reading_ms() - clock.wall_ms()),
                rtt_ms=round(best.rtt_ms, 2),
            )
        return best

    async def start(self) -> None:
        await self._refresh.start()

    async def stop(self) -> None:
        await self._refresh.stop()
