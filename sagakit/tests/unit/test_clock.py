"""The one clock: server time as local monotonic time + a measured offset (clock.py,
clock_sync.py), driven here by a scripted server and a hand-turned monotonic clock."""

from __future__ import annotations

import pytest

from sagakit.clock import Clock, default_clock, installed, now_ms
from sagakit.clock_sync import ClockSync, ClockSyncError, measure_offset
from sagakit.testing.waiting import eventually

SERVER_AHEAD_MS = 600_000.0  # the server's clock is 10 minutes ahead of this one's monotonic


class Monotonic:
    def __init__(self) -> None:
        self.ms = 5_000.0

    def __call__(self) -> float:
        return self.ms


class ScriptedServer:
    """Answers TIME; each round trip is (outbound ms, return ms): the server reads its clock
    after the outbound leg, so the rtt/2 estimate is exact only for a symmetric trip."""

    def __init__(self, monotonic: Monotonic, trips: list[tuple[float, float]]) -> None:
        self.monotonic = monotonic
        self.trips = trips
        self.ahead_ms = SERVER_AHEAD_MS
        self.reachable = True

    async def time(self) -> tuple[int, int]:
        if not self.reachable:
            raise ConnectionError("Redis unreachable")
        outbound, back = self.trips.pop(0) if self.trips else (0.5, 0.5)
        self.monotonic.ms += outbound
        server_us = round((self.monotonic.ms + self.ahead_ms) * 1000)
        self.monotonic.ms += back
        return server_us // 1_000_000, server_us % 1_000_000


def clock_and_server(
    trips: list[tuple[float, float]] | None = None,
) -> tuple[Clock, ScriptedServer]:
    monotonic = Monotonic()
    clock = Clock(wall_ms=lambda: 1_000.0, monotonic_ms=monotonic)
    return clock, ScriptedServer(monotonic, list(trips or []))


async def test_the_sample_with_the_smallest_round_trip_wins() -> None:
    # errors of rtt/2 - outbound: -19 ms, 0 ms, +13.5 ms; only the fastest trip is symmetric
    clock, server = clock_and_server([(40.0, 2.0), (1.0, 1.0), (3.0, 30.0)])
    best = await measure_offset(server.time, clock, samples=3)
    assert best.rtt_ms == pytest.approx(2.0)
    assert best.offset_ms == pytest.approx(SERVER_AHEAD_MS, abs=0.01)


async def test_a_synced_clock_reads_server_time_whatever_the_local_wall_clock_says() -> None:
    clock, server = clock_and_server()
    assert clock.now_ms() == 1_000  # before any sync: the local wall clock
    await ClockSync(server.time, clock=clock).sync()
    assert clock.now_ms() == pytest.approx(server.monotonic.ms + SERVER_AHEAD_MS, abs=1)
    server.monotonic.ms += 1_234.0
    assert clock.now_ms() == pytest.approx(server.monotonic.ms + SERVER_AHEAD_MS, abs=1)


async def test_a_refresh_that_moves_time_back_a_little_holds_it_instead() -> None:
    clock, server = clock_and_server()
    sync = ClockSync(server.time, clock=clock)
    await sync.sync()
    before = clock.reading_ms()
    server.ahead_ms -= 5.0  # the next measurement is 5 ms lower (drift, noise)
    await sync.sync()
    readings = [clock.reading_ms()]
    for _ in range(10):
        server.monotonic.ms += 1.0
        readings.append(clock.reading_ms())
    assert readings[0] >= before
    assert readings == sorted(readings)  # never backwards
    assert readings[-1] == pytest.approx(server.monotonic.ms + server.ahead_ms)  # caught up


async def test_a_step_of_the_server_clock_is_taken_at_once() -> None:
    clock, server = clock_and_server()
    sync = ClockSync(server.time, clock=clock)
    await sync.sync()
    server.ahead_ms -= 120_000.0  # the server's clock was set back two minutes
    await sync.sync()
    assert clock.reading_ms() == pytest.approx(server.monotonic.ms + server.ahead_ms, abs=1)


async def test_an_unreachable_server_keeps_the_last_offset_and_time_runs_on() -> None:
    clock, server = clock_and_server()
    sync = ClockSync(server.time, clock=clock)
    await sync.sync()
    offset = clock.offset_ms
    server.reachable = False
    with pytest.raises(ConnectionError):
        await sync.sync()
    assert clock.offset_ms == offset
    server.monotonic.ms += 60_000.0
    assert clock.reading_ms() == pytest.approx(server.monotonic.ms + SERVER_AHEAD_MS, abs=1)


async def test_only_slow_samples_are_refused_and_keep_the_last_offset() -> None:
    clock, server = clock_and_server()
    sync = ClockSync(server.time, clock=clock, samples=2, max_rtt_ms=100.0)
    await sync.sync()
    offset = clock.offset_ms
    server.ahead_ms += 3_000.0
    server.trips = [(1_000.0, 1_000.0), (900.0, 900.0)]
    with pytest.raises(ClockSyncError):
        await sync.sync()
    assert clock.offset_ms == offset


async def test_the_running_component_refreshes_the_offset() -> None:
    clock, server = clock_and_server()
    sync = ClockSync(server.time, clock=clock, interval_s=0.01)
    await sync.sync()
    server.ahead_ms += 30_000.0
    await sync.start()
    try:
        await eventually(
            lambda: clock.offset_ms == pytest.approx(server.ahead_ms, abs=1),
            what="the refreshed offset",
        )
    finally:
        await sync.stop()


async def test_now_ms_reads_the_installed_clock_and_the_default_comes_back() -> None:
    clock, server = clock_and_server()
    await ClockSync(server.time, clock=clock).sync()
    default = default_clock()
    with installed(clock):
        assert default_clock() is clock
        assert now_ms() == clock.now_ms()
    assert default_clock() is default
