"""Giving couriers to waiting deliveries, oldest first.

One attempt (`assign`): reuse a courier that already holds the order (an earlier attempt
claimed it and then crashed before writing the delivery), else claim an idle one atomically;
then the guarded transition waiting → assigned emits `delivery.courier_assigned` and
`courier.dispatch` in the same write. If that transition loses (another attempt assigned a
different courier, or the delivery ended meanwhile), the claimed courier is freed again. So a
delivery records at most one courier, and a courier holds at most one order.

A new delivery is attempted at once unless older ones wait for a courier (`assign_in_turn`).
`assign_waiting` hands free couriers to the oldest waiting deliveries, attempting them all at
once. It runs when poked (after every release: the deliveries waiting for that courier may be
another replica's) and periodically as a fallback; one pass at a time per process, and pokes
during a pass cause one more pass rather than piling up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from enum import Enum

from delivery.domain import AssignCourier
from delivery.flow import DeliveryFlow
from delivery.store import Deliveries, Document, Fleet
from sagakit.envelope import Envelope
from sagakit.lifecycle import Periodic
from sagakit.logs import get_logger

log = get_logger("delivery.assignment")

# The most deliveries one pass serves; a longer queue is served by the passes that follow.
PASS_SIZE = 500


class Attempt(Enum):
    ASSIGNED = "assigned"
    NO_COURIER_FREE = "no_courier_free"
    NOT_NEEDED = "not_needed"  # no longer waiting
    QUEUED = "queued"  # older deliveries are waiting: they get the next couriers first


class Shortage:
    """Whether deliveries may be waiting because no courier was free, as far as this process
    can tell; it decides only whether the database is asked, never what is written.

    Deliveries wait (beyond the moment their own attempt takes) only after a claim found no
    idle courier. So a shortage is possible from the start (unknown), whenever this process
    sees a claim fail or a pass find no idle courier, and until a pass of its own, started
    after that, finds every waiting delivery served. The fleet is shared, so a shortage
    another replica meets shows here at this process's next claim or pass; until then a new
    delivery may overtake an older one elsewhere. Order is at stake, never the fleet's
    consistency, which rests on the atomic claim and the guarded writes alone.
    """

    def __init__(self) -> None:
        self._seen = 1  # unknown at start: the first pass finds out
        self._cleared = 0

    @property
    def possible(self) -> bool:
        return self._seen > self._cleared

    def seen(self) -> None:
        self._seen += 1

    def mark(self) -> int:
        """Taken when a pass starts; give it to `cleared` if the pass left nobody waiting."""
        return self._seen

    def cleared(self, mark: int) -> None:
        self._cleared = max(self._cleared, mark)


class Assigner:
    def __init__(
        self, deliveries: Deliveries, fleet: Fleet, flow: DeliveryFlow, *, interval_s: float
    ) -> None:
        self.deliveries = deliveries
        self.fleet = fleet
        self.flow = flow
        self.shortage = Shortage()
        self._periodic = Periodic("delivery:assigner", self.assign_waiting, interval_s)
        self._one_pass_at_a_time = asyncio.Lock()
        self._poked = False
        self._poke_task: asyncio.Task[None] | None = None
        self._running = False
        # Deliveries with an attempt under way in this process: a pass leaves them to it.
        self._in_flight: Counter[str] = Counter()

    async def start(self) -> None:
        self._running = True
        await self._periodic.start()

    async def stop(self) -> None:
        self._running = False
        await self._periodic.stop()
        if self._poke_task is not None:
            self._poke_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poke_task

    async def assign_in_turn(self, doc: Document, causation: Envelope | None = None) -> Attempt:
        """Attempt to give the new waiting delivery `doc` a courier, unless older deliveries
        are waiting for one (then the next pass serves them first)."""
        with self._attempting(doc["_id"]):
            if self.shortage.possible and await self.deliveries.waiting_before(doc["created_ms"]):
                self.poke()
                return Attempt.QUEUED
            return await self._assign(doc, causation)

    async def assign(self, doc: Document, causation: Envelope | None = None) -> Attempt:
        """One attempt to give the delivery `doc` (recently known as waiting) a courier."""
        with self._attempting(doc["_id"]):
            return await self._assign(doc, causation)

    @contextlib.contextmanager
    def _attempting(self, order_id: str) -> Iterator[None]:
        self._in_flight[order_id] += 1
        try:
            yield
        finally:
            self._in_flight[order_id] -= 1
            if not self._in_flight[order_id]:
                del self._in_flight[order_id]

    async def _assign(self, doc: Document, causation: Envelope | None) -> Attempt:
        order_id: str = doc["_id"]
        # The first attempt on a delivery this process created cannot find a courier already
        # holding it from an earlier attempt here. One that another replica claimed and then
        # died with is freed or put to work by the fleet janitor.
        unclaimed = self.flow.known.take_unclaimed(order_id)
        courier = None if unclaimed else await self.fleet.held_for(order_id)
        if courier is None:
            courier = await self.fleet.claim_idle(order_id)
        if courier is None:
            if unclaimed:
                self.flow.known.still_unclaimed(order_id)
            self.shortage.seen()
            return Attempt.NO_COURIER_FREE
        outcome = await self.flow.advance(
            order_id, AssignCourier(courier), causation=causation, doc=doc
        )
        if outcome.freed_courier:
            self.poke()
        if outcome.changed:
            log.info("courier assigned", order_id=order_id, courier_id=courier)
            return Attempt.ASSIGNED
        return Attempt.NOT_NEEDED

    async def assign_waiting(self) -> int:
        """Give free couriers to the oldest waiting deliveries; how many were assigned."""
        async with self._one_pass_at_a_time:
            mark = self.shortage.mark()
            waiting = await self.deliveries.oldest_waiting(limit=PASS_SIZE)
            # A delivery with its own attempt under way here (a new one, usually) is left to it.
            serve = [doc for doc in waiting if doc["_id"] not in self._in_flight]
            idle = await self.fleet.count_idle(up_to=len(serve)) if serve else 0
            if serve and idle == 0:
                self.shortage.seen()
                return 0
            # One attempt per delivery a courier is free for, all at once: each claim is atomic
            # and each transition guarded, so they need no turn-taking, and a pass costs one
            # round trip of latency rather than one per delivery (with zero-delay couriers the
            # sequential pass was the bottleneck: 2.7 s median from ready to courier_assigned
            # at 20/s, and with replicas a backlog that never cleared).
            attempts = await asyncio.gather(*(self.assign(doc) for doc in serve[:idle]))
            assigned = sum(attempt is Attempt.ASSIGNED for attempt in attempts)
            if Attempt.NO_COURIER_FREE in attempts:
                return assigned
            if len(serve) <= idle and len(waiting) < PASS_SIZE:  # it saw them all, served all
                self.shortage.cleared(mark)
            elif len(waiting) == PASS_SIZE:  # a full page: more may wait behind it
                self.poke()
            return assigned

    def poke(self) -> None:
        """A courier was freed: run a pass soon (without waiting for it). Deliveries may wait
        for it although this process saw no shortage (another replica did), so every release
        pokes; a pass that finds nobody waiting costs one indexed read."""
        if not self._running:
            return
        self._poked = True
        if self._poke_task is None or self._poke_task.done():
            self._poke_task = asyncio.create_task(self._serve_pokes())

    async def _serve_pokes(self) -> None:
        while self._poked:
            self._poked = False
            try:
                await self.assign_waiting()
            except Exception as exc:  # the periodic pass tries again
                log.warning("assignment pass failed", error=repr(exc))
                return
