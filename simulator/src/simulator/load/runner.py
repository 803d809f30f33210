"""The run: send on the fixed schedule, track, drain, check the invariants.

Open loop: every order has a send time fixed before the run starts, and a dispatcher starts
one task per order at that time whatever happened to earlier ones, so a slow system cannot
slow the arrivals down and hide its latency. Latencies are measured from the *scheduled* send
time (coordinated-omission safe); how late each send was actually issued (the generator's own
lag) and how late the event loop wakes up are recorded and reported separately.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from simulator.load.client import Api, HttpPools, Placed, RefillsUnavailable
from simulator.load.contents import order_contents
from simulator.load.histogram import Latencies
from simulator.load.invariants import (
    Check,
    Stock,
    Violation,
    stock_check,
    terminal_check,
    versions_check,
)
from simulator.load.records import Errors, OrderRecord, Placement
from simulator.load.schedule import Profile, Segment, segments, send_times
from simulator.load.tracker import Clock, SocketSettings, follow, websocket_base

POLL_INTERVAL_S = 0.5
REFILL_LISTING_WINDOW_MS = 3_600_000
READ_CONCURRENCY = 32  # GET /api/tracking at a time while draining and at the end
LOOP_PROBE_S = 0.05
FINAL_READS_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class SimulateOptions:
    rate: float
    duration_s: float
    profile: Profile = Profile.CONSTANT
    target: str = "http://127.0.0.1:8080"
    track_fraction: float = 1.0  # 1.0: a WebSocket per order
    seed: int = 1
    drain_timeout_s: float = 60.0
    settle_timeout_s: float = 15.0  # stock settles just after the last order ends
    operator_key: str | None = None
    restock_to: int | None = None  # raise every item's stock to this before the run
    max_connections: int = 512
    max_sockets: int = 5000
    http_timeout_s: float = 30.0
    sockets: SocketSettings = field(default_factory=SocketSettings)


@dataclass(slots=True)
class RunResult:
    options: SimulateOptions
    started_at: str
    parts: list[Segment]
    records: list[OrderRecord]
    errors: Errors
    send_lag: Latencies
    loop_lag: Latencies
    # (when, how late) the event loop woke up from each probe's sleep
    loop_lags: list[tuple[float, float]] = field(default_factory=list)
    schedule_end: float = 0.0  # when the last order was sent
    wall_s: float = 0.0
    cpu_s: float = 0.0
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def is_tracked(n: int, fraction: float) -> bool:
    """Every 1/fraction-th order, spread evenly over the run (all for 1, none for 0)."""
    return int((n + 1) * fraction) > int(n * fraction)


async def simulate(options: SimulateOptions) -> RunResult:
    parts = segments(options.profile, options.rate, options.duration_s)
    times = send_times(parts)
    errors = Errors()
    async with HttpPools(
        options.target, max_connections=options.max_connections, timeout_s=options.http_timeout_s
    ) as http:
        api = Api(http, errors.http, options.operator_key)
        own_refills: set[str] = set()
        if options.restock_to is not None:
            own_refills.add(await api.restock(options.restock_to))
        # Refill runs carry the servers' time (Redis's), from which this machine's clock may be
        # far: the runs of the last hour are listed now and left out of the count, so the local
        # clock only bounds the listing (the generator has no Redis: its own wall clock it is).
        since_ms = time.time_ns() // 1_000_000 - REFILL_LISTING_WINDOW_MS
        try:
            if api.has_operator_key:
                own_refills |= {run["run_id"] for run in await api.refill_runs(since_ms)}
        except RefillsUnavailable:  # the final check says so if it lasts
            since_ms = time.time_ns() // 1_000_000
        before = await api.stock()
        contents = order_contents(
            list(before), len(times), seed=options.seed, run_id=uuid.uuid4().hex[:12]
        )
        records = [
            OrderRecord(n, at, contents[n], is_tracked(n, options.track_fraction))
            for n, at in enumerate(times)
        ]
        result = RunResult(
            options=options,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            parts=parts,
            records=records,
            errors=errors,
            send_lag=Latencies(),
            loop_lag=Latencies(),
        )
        run = _Run(api, result)
        await run.execute()
        result.checks = [
            terminal_check(run.final_statuses()),
            _versions(run.accepted),
            await run.stock(before, since_ms, own_refills),
        ]
    return result


class _Run:
    def __init__(self, api: Api, result: RunResult) -> None:
        self.api = api
        self.result = result
        self.options = result.options
        self.clock = Clock()
        self.ws_base = websocket_base(self.options.target)
        self.placing: set[asyncio.Task[None]] = set()
        self.trackers: dict[int, asyncio.Task[None]] = {}
        self.open_sockets = 0

    @property
    def accepted(self) -> list[OrderRecord]:
        return [record for record in self.result.records if record.accepted]

    async def execute(self) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        self.clock = Clock()
        probe = asyncio.create_task(self._probe_loop())
        try:
            await self._dispatch()
            self.result.schedule_end = self.clock.now()
            await self._drain(deadline=self.clock.now() + self.options.drain_timeout_s)
            # bounded: a saturated system must not keep the report from being written
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FINAL_READS_TIMEOUT_S):
                    await self._read_views(r for r in self.accepted if not _final(r))
        finally:
            probe.cancel()
            await _cancel(list(self.trackers.values()) + list(self.placing) + [probe])
            self.result.wall_s = time.perf_counter() - started
            self.result.cpu_s = time.process_time() - cpu

    async def _dispatch(self) -> None:
        for record in self.result.records:
            delay = record.scheduled - self.clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
            self.placing.add(asyncio.create_task(self._place(record)))

    async def _place(self, record: OrderRecord) -> None:
        record.sent = self.clock.now()
        self.result.send_lag.record(record.sent - record.scheduled)
        await self._answer(record)

    async def _answer(self, record: OrderRecord) -> None:
        try:
            placed, retries = await self.api.place(
                record.contents, unanswered_before=record.placement is Placement.UNKNOWN
            )
        except asyncio.CancelledError:
            record.placement, record.detail = Placement.UNKNOWN, "no answer before the deadline"
            raise
        self.result.errors.retries += retries
        record.responded = self.clock.now()
        self._apply(record, placed)

    def _apply(self, record: OrderRecord, placed: Placed) -> None:
        record.placement, record.detail = placed.placement, placed.detail
        record.order_id, record.token = placed.order_id, placed.token
        if not (record.accepted and record.tracked):
            return
        if self.open_sockets >= self.options.max_sockets:
            record.tracked = False
            self.result.errors.untracked_socket_limit += 1
            return
        self.trackers[record.n] = asyncio.create_task(self._follow(record))

    async def _follow(self, record: OrderRecord) -> None:
        self.open_sockets += 1
        try:
            await follow(record, self.ws_base, self.clock, self.result.errors, self.options.sockets)
        finally:
            self.open_sockets -= 1

    async def _drain(self, deadline: float) -> None:
        """Until `deadline`: wait for every POST's answer (asking again with the same key where
        none came), then for every accepted order to be terminal: tracked ones on their
        sockets, the others (and any whose socket gave up) by polling their tracking view."""
        await self._until(deadline, self.placing)
        if self.clock.now() < deadline:
            # the same Idempotency-Key again: the original answer, or the order placed now
            retry = {asyncio.create_task(self._answer(r)) for r in self.unanswered()}
            await self._until(deadline, retry)
        while self.clock.now() < deadline:
            waiting = [r for r in self.accepted if r.terminal_at is None]
            if not waiting:
                return
            await self._read_views(r for r in waiting if not self._followed(r))
            if all(r.terminal_at is not None for r in waiting):
                return
            await asyncio.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - self.clock.now())))

    async def _until(self, deadline: float, tasks: set[asyncio.Task[None]]) -> None:
        """Wait for `tasks` until `deadline`; cancel those still running then."""
        self.placing |= tasks
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=max(0.0, deadline - self.clock.now()))
            await _cancel(list(late))

    def _followed(self, record: OrderRecord) -> bool:
        task = self.trackers.get(record.n)
        return task is not None and not task.done()

    async def _read_views(self, records: Iterable[OrderRecord]) -> None:
        limit = asyncio.Semaphore(READ_CONCURRENCY)

        async def read(record: OrderRecord) -> None:
            assert record.order_id is not None
            assert record.token is not None
            async with limit:
                view = await self.api.tracking(record.order_id, record.token)
            if view is not None:
                record.note_view(view, self.clock.now())

        await asyncio.gather(*(read(record) for record in records))

    def unanswered(self) -> list[OrderRecord]:
        return [r for r in self.result.records if r.placement is Placement.UNKNOWN]

    def final_statuses(self) -> dict[str, str | None]:
        """Each accepted order's last status, and orders whose POST was never answered (nobody
        can tell whether they exist, let alone whether they ended)."""
        statuses = {r.order_id: r.final_status for r in self.accepted if r.order_id}
        for record in self.unanswered():
            key = f"order #{record.n} ({record.contents.idempotency_key})"
            statuses[key] = "POST never answered"
        return statuses

    async def stock(self, before: dict[str, int], since_ms: int, own_refills: set[str]) -> Check:
        """Compare stock once it settled (or `settle_timeout_s` passed)."""
        if unanswered := self.unanswered():
            reason = f"{len(unanswered)} orders were never answered (they may hold stock)"
            return stock_check(None, refills_known=False, reason=reason)
        if any(r.final_status not in ("delivered", "cancelled") for r in self.accepted):
            return stock_check(None, refills_known=False, reason="orders still in flight")
        sold: Counter[str] = Counter()
        for record in self.accepted:
            if record.reached("preparing"):
                sold.update(record.contents.quantities)
        deadline = self.clock.now() + self.options.settle_timeout_s
        while True:
            refilled: dict[str, int] = {}
            if self.api.has_operator_key:
                try:
                    refilled = await self.api.refilled_since(since_ms, excluding=own_refills)
                except RefillsUnavailable as exc:
                    return stock_check(None, refills_known=False, reason=f"refills: {exc}")
            try:
                after = await self.api.stock()
            except httpx.HTTPError as exc:
                return stock_check(None, refills_known=False, reason=f"menu: {exc!r}")
            stock = Stock(before, after, dict(sold), refilled)
            if not stock.mismatches() or self.clock.now() > deadline:
                return stock_check(stock, refills_known=self.api.has_operator_key)
            await asyncio.sleep(0.25)

    async def _probe_loop(self) -> None:
        while True:
            asleep = time.perf_counter()
            await asyncio.sleep(LOOP_PROBE_S)
            lag = max(0.0, time.perf_counter() - asleep - LOOP_PROBE_S)
            self.result.loop_lag.record(lag)
            self.result.loop_lags.append((self.clock.now(), lag))


def _final(record: OrderRecord) -> bool:
    return record.view is not None and record.view.get("status") in ("delivered", "cancelled")


def _versions(accepted: list[OrderRecord]) -> Check:
    timelines: dict[str, tuple[list[int], int] | None] = {}
    sockets: dict[str, list[Violation]] = {}
    mismatches: dict[str, list[str]] = {}
    for record in accepted:
        assert record.order_id is not None
        view = record.view
        timelines[record.order_id] = (
            None
            if view is None
            else ([entry["version"] for entry in view["timeline"]], int(view["version"]))
        )
        if record.tracked:
            sockets[record.order_id] = record.sequence.violations
        if view is not None:
            by_version = {entry["version"]: entry["status"] for entry in view["timeline"]}
            problems = [
                f"websocket said {seen.status} for version {version}, "
                f"timeline {by_version.get(version)}"
                for version, seen in sorted(record.observed.items())
                if by_version.get(version) != seen.status
            ]
            if problems:
                mismatches[record.order_id] = problems
    return versions_check(timelines, sockets, mismatches)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
