"""One clock for every time that another process reads: the Redis server's, kept locally.

Deadlines, outbox ages, janitors' grace periods, in-flight idempotency keys, reservations and
timeline timestamps are written by one process and compared by another, so they must come
from one clock. A Raspberry Pi has no RTC: its wall clock can be minutes off after a boot, and
then deadlines fire early or late and a janitor releases stock a live order holds. So every
such time is the Redis server's `TIME`, read as `local monotonic time + offset`; the offset is
measured by `clock_sync.py` (at service start, then periodically), and reading the clock stays
arithmetic: no I/O on the hot paths.

Before the first sync the clock falls back to the local wall clock, with a one-time warning:
every service awaits a successful sync before it does anything else (its startup hooks, its
consumers, deadlines and janitors), as do the CLI commands that write such times, so only
single-process code (unit tests, one-shot tools) reads the unsynced clock.

Times stored in documents for queries are integer epoch milliseconds: the embedded server
stores a datetime written by `$set` as a string, where a range query no longer matches it (see
the MongoDB contract test).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sagakit.logs import get_logger

log = get_logger("sagakit.clock")

MillisecondSource = Callable[[], float]

# A correction smaller than this is absorbed by holding the time still until the new offset
# catches up (readings never go backwards); a larger one is a step of the server's clock and
# is taken at once, since holding for minutes would stop every deadline.
MAX_HOLD_MS = 1_000.0


def local_wall_ms() -> float:
    return time.time() * 1000


def local_monotonic_ms() -> float:
    return time.monotonic() * 1000


class Clock:
    """Server time as `monotonic_ms() + offset`; the local sources are injectable for tests."""

    def __init__(
        self,
        *,
        wall_ms: MillisecondSource = local_wall_ms,
        monotonic_ms: MillisecondSource = local_monotonic_ms,
    ) -> None:
        self.wall_ms = wall_ms
        self.monotonic_ms = monotonic_ms
        self._offset_ms: float | None = None
        self._floor_ms = 0.0
        self._warned = False

    @property
    def synced(self) -> bool:
        return self._offset_ms is not None

    @property
    def offset_ms(self) -> float | None:
        return self._offset_ms

    def now_ms(self) -> int:
        return int(self.reading_ms())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.reading_ms() / 1000, UTC)

    def reading_ms(self) -> float:
        # On hot paths (every envelope, every guarded write): arithmetic only.
        offset = self._offset_ms
        if offset is None:
            return self._unsynced_ms()
        reading: float = self.monotonic_ms() + offset
        return reading if reading > self._floor_ms else self._floor_ms

    def adopt(self, offset_ms: float) -> None:
        """Take a newly measured offset: server time = monotonic time + offset."""
        previous = self._offset_ms
        if previous is not None:
            change = offset_ms - previous
            if -MAX_HOLD_MS <= change < 0:
                self._floor_ms = self.monotonic_ms() + previous
            elif change < -MAX_HOLD_MS or change > MAX_HOLD_MS:
                self._floor_ms = 0.0
                log.warning("server clock stepped", change_ms=round(change))
        self._offset_ms = offset_ms

    def _unsynced_ms(self) -> float:
        if not self._warned:
            self._warned = True
            log.warning(
                "clock read before any sync with the Redis server: using the local wall clock"
            )
        return self.wall_ms()


_default = Clock()


def default_clock() -> Clock:
    return _default


def install(clock: Clock) -> Clock:
    """Make `clock` the one `now_ms()` reads; returns the one it replaces."""
    global _default
    previous, _default = _default, clock
    return previous


@contextmanager
def installed(clock: Clock) -> Iterator[Clock]:
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)


def now_ms() -> int:
    """Server time in epoch milliseconds (see the module doc)."""
    return int(_default.reading_ms())


def utcnow() -> datetime:
    """Server time as an aware UTC datetime, for timestamps other processes or users read."""
    return _default.now()


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)
