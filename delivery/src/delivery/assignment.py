"""Giving couriers to waiting deliveries, oldest first.

One attempt (`assign`): reuse a courier that already holds the order (an earlier attempt
claimed it and then crashed before writing the delivery), else claim an idle one atomically;
then the guarded transition waiting → assigned emits `delivery.courier_assigned` and
`courier.dispatch` in the same write. If that transition loses (another attempt assigned a
different courier, or the delivery ended meanwhile), the claimed courier is freed again. So a
delivery records at most one courier, and a courier holds at most one order.

`assign_waiting` hands free couriers to the oldest waiting deliveries. It runs when poked
(after every release) and periodically as a fallback; one pass at a time per process, and
pokes during a pass cause one more pass rather than piling up.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import Enum

from delivery.domain import AssignCourier
from delivery.flow import DeliveryFlow
from delivery.store import Deliveries, Document, Fleet
from sagakit.envelope import Envelope
from sagakit.lifecycle import Periodic
from sagakit.logs import get_logger

log = get_logger("delivery.assignment")


class Attempt(Enum):
    ASSIGNED = "assigned"
    NO_COURIER_FREE = "no_courier_free"
    NOT_NEEDED = "not_needed"  # no longer waiting


class Assigner:
    def __init__(
        self, deliveries: Deliveries, fleet: Fleet, flow: DeliveryFlow, *, interval_s: float
    ) -> None:
        self.deliveries = deliveries
        self.fleet = fleet
        self.flow = flow
        self._periodic = Periodic("delivery:assigner", self.assign_waiting, interval_s)
        self._one_pass_at_a_time = asyncio.Lock()
        self._poked = False
        self._poke_task: asyncio.Task[None] | None = None
        self._running = False

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

    async def assign(self, doc: Document, causation: Envelope | None = None) -> Attempt:
        """One attempt to give the delivery `doc` (recently read as waiting) a courier."""
        order_id: str = doc["_id"]
        courier = await self.fleet.held_for(order_id) or await self.fleet.claim_idle(order_id)
        if courier is None:
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
            idle = await self.fleet.count_idle()
            if idle == 0:
                return 0
            assigned = 0
            for doc in await self.deliveries.oldest_waiting(limit=idle):
                attempt = await self.assign(doc)
                if attempt is Attempt.NO_COURIER_FREE:
                    break
                assigned += attempt is Attempt.ASSIGNED
            return assigned

    def poke(self) -> None:
        """A courier was freed: run a pass soon (without waiting for it)."""
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
