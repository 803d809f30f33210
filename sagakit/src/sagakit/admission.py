"""Admission control: refuse new work while the consumer groups behind it are too far behind.

The signal is the backlog of the watched groups, `lag + pending` summed over them (see
`GroupStats.backlog`), sampled by a background task in one pipelined round trip. The decision
has hysteresis: shedding starts when the backlog exceeds `max_backlog` and stops only once it
is back to `resume_ratio` of it, so it does not flap around one value. Refusing is the
caller's job (e.g. a 503 with Retry-After); this module only says whether to.

A backlog in the streams shows only what was accepted. Past capacity the requests themselves
queue in front of the handlers (every one waiting on the same busy event loop and database),
where no stream shows them; so a request is also refused while `max_in_flight` admitted ones
are unanswered *and* the oldest of them has waited longer than `max_wait_s`: a standing queue.
A burst on a healthy system (many requests at once, each answered quickly) is not refused; a
queue that does not drain is cut off before it grows.

When the backlog cannot be sampled (Redis unreachable or too slow), the last decision holds
for `stale_after_s` and then expires to admitting: an unreachable Redis is readiness' business,
and a saga that cannot be measured is not thereby known to be behind.

    probe = BacklogProbe.connect(redis_url, {"payments.events": ["orders"]})
    control = AdmissionControl("orders", probe, AdmissionGate(max_backlog=1000), max_in_flight=32)
    runtime.add(control)
    ...
    ticket = control.admit()
    if isinstance(ticket, Refusal): refuse, else handle and then control.done(ticket)
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from sagakit.connections import redis_client
from sagakit.lifecycle import Periodic
from sagakit.logs import describe, get_logger
from sagakit.maintenance import group_stats_of
from sagakit.metrics import (
    ADMISSION_BACKLOG,
    ADMISSION_IN_FLIGHT,
    ADMISSION_SHED,
    ADMISSION_SHEDDING,
)

log = get_logger("sagakit.admission")


class AdmissionGate:
    """The pure decision: shed above `max_backlog`, admit again at or below `resume_at`.

    `max_backlog` 0 turns shedding off. An unknown sample (None) changes nothing; a decision
    older than `stale_after_s` no longer counts (admit), and the next sample starts afresh.
    """

    def __init__(
        self, max_backlog: int, *, resume_ratio: float = 0.8, stale_after_s: float = 2.0
    ) -> None:
        if max_backlog < 0:
            raise ValueError("max_backlog must be >= 0 (0 disables)")
        if not 0 <= resume_ratio < 1:
            raise ValueError("resume_ratio must be in [0, 1)")
        if stale_after_s <= 0:
            raise ValueError("stale_after_s must be > 0")
        self.max_backlog = max_backlog
        self.resume_at = int(max_backlog * resume_ratio)  # always below max_backlog
        self.stale_after_s = stale_after_s
        self._shedding = False
        self._decided_at: float | None = None

    @property
    def enabled(self) -> bool:
        return self.max_backlog > 0

    def observe(self, backlog: int | None, now: float) -> None:
        """Take a sample taken at `now` (monotonic seconds); None when it could not be taken."""
        if not self.enabled or backlog is None:
            return
        if self._stale(now):
            self._shedding = False
        if backlog > self.max_backlog:
            self._shedding = True
        elif backlog <= self.resume_at:
            self._shedding = False
        self._decided_at = now

    def shedding(self, now: float) -> bool:
        return self.enabled and self._shedding and not self._stale(now)

    def _stale(self, now: float) -> bool:
        return self._decided_at is None or now - self._decided_at > self.stale_after_s


class Probe(Protocol):
    async def sample(self) -> int: ...

    async def aclose(self) -> None: ...


class BacklogProbe:
    """Sums `lag + pending` of the watched groups (stream -> group names) in one round trip.

    Groups not listed are ignored (a read-side projection, a group an operator made by hand);
    a listed group or stream that does not exist yet counts 0. `connect` gives it a connection
    of its own, so a sample never queues behind the service's traffic on a busy pool (which is
    when it matters).
    """

    def __init__(
        self, redis: Redis, watched: Mapping[str, Collection[str]], *, owns_client: bool = False
    ) -> None:
        self._redis = redis
        self._watched = {stream: frozenset(groups) for stream, groups in watched.items()}
        self._owns_client = owns_client

    @classmethod
    def connect(cls, redis_url: str, watched: Mapping[str, Collection[str]]) -> BacklogProbe:
        client = redis_client(redis_url, socket_timeout=5.0, max_connections=1)
        return cls(client, watched, owns_client=True)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()

    async def sample(self) -> int:
        found = await group_stats_of(self._redis, self._watched)
        return sum(
            stats.backlog
            for stream, groups in found.items()
            for stats in groups
            if stats.group in self._watched[stream]
        )


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: "backlog" (the saga is behind) or "in_flight" (requests
    queue in front of the handlers)."""

    reason: str


class AdmissionControl:
    """A component sampling the backlog every `interval_s` into an `AdmissionGate`, with
    metrics (`service` label) and a log line when shedding starts and stops.

    It samples only while there is demand: a placement asked for since the last sample, or
    shedding in force. An idle service costs Redis nothing; the first request after a quiet
    spell is decided on a stale (so admitting) gate and the next tick samples again.
    """

    def __init__(
        self,
        service: str,
        probe: Probe,
        gate: AdmissionGate,
        *,
        interval_s: float = 0.25,
        retry_after_s: int = 1,
        max_in_flight: int = 0,
        max_wait_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 0:
            raise ValueError("max_in_flight must be >= 0 (0 disables)")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self.service = service
        self.gate = gate
        self.retry_after_s = retry_after_s
        self.max_in_flight = max_in_flight
        self.max_wait_s = max_wait_s
        # Unanswered admitted requests: ticket -> when admitted, oldest first.
        self._admitted: dict[int, float] = {}
        self._tickets = itertools.count()
        self._probe = probe
        self._clock = clock
        self._sampler = Periodic(f"{service}:admission", self._sample_on_demand, interval_s)
        self._asked = False  # a placement was asked for since the last sample
        self._was_shedding = False
        self._sampling_failed = False
        self._backlog = ADMISSION_BACKLOG.labels(service)
        self._shedding_gauge = ADMISSION_SHEDDING.labels(service)
        self._in_flight_gauge = ADMISSION_IN_FLIGHT.labels(service)
        self._shed = {
            reason: ADMISSION_SHED.labels(service, reason) for reason in ("backlog", "in_flight")
        }

    async def start(self) -> None:
        if self.gate.enabled:
            await self._sampler.start()

    async def stop(self) -> None:
        await self._sampler.stop()
        await self._probe.aclose()

    def shedding(self) -> bool:
        shedding = self.gate.shedding(self._clock())
        if shedding != self._was_shedding:
            self._was_shedding = shedding
            self._shedding_gauge.set(int(shedding))
            if shedding:
                log.warning("shedding new work", service=self.service, limit=self.gate.max_backlog)
            else:
                log.info("admitting new work again", service=self.service)
        return shedding

    @property
    def in_flight(self) -> int:
        return len(self._admitted)

    def admit(self) -> int | Refusal:
        """A ticket for one request, to give back to `done` once it is answered; or why it is
        refused."""
        now = self._clock()
        self._asked = True
        if self.shedding():
            refusal = Refusal("backlog")
        elif self._queue_standing(now):
            refusal = Refusal("in_flight")
        else:
            ticket = next(self._tickets)
            self._admitted[ticket] = now
            self._in_flight_gauge.set(self.in_flight)
            return ticket
        self._shed[refusal.reason].inc()
        return refusal

    def done(self, ticket: int) -> None:
        """The request admitted with `ticket` was answered."""
        self._admitted.pop(ticket, None)
        self._in_flight_gauge.set(self.in_flight)

    def _queue_standing(self, now: float) -> bool:
        if not self.max_in_flight or self.in_flight < self.max_in_flight:
            return False
        oldest = next(iter(self._admitted.values()))
        return now - oldest > self.max_wait_s

    async def _sample_on_demand(self) -> None:
        if self._asked or self.gate.shedding(self._clock()):
            self._asked = False
            await self.sample_once()

    async def sample_once(self) -> None:
        """One sample into the gate; never raises (a failure is an unknown sample)."""
        backlog: int | None = None
        try:
            async with asyncio.timeout(self.gate.stale_after_s):
                backlog = await self._probe.sample()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self._sampling_failed:
                log.warning("admission: backlog unknown", service=self.service, error=describe(exc))
            self._sampling_failed = True
        else:
            if self._sampling_failed:
                log.info("admission: backlog known again", service=self.service, backlog=backlog)
            self._sampling_failed = False
            self._backlog.set(backlog)
        self.gate.observe(backlog, self._clock())
        self.shedding()  # keeps the gauge and the log current between requests
