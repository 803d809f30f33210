"""Repairs what a crash between two writes leaves in the fleet.

A courier stays busy on an ended delivery when a process died after the delivery's final
write and before the courier's release; a courier holds a still-waiting delivery when a
process died after the claim and before the waiting → assigned write. Each pass looks at the
busy couriers and the deliveries of the orders they hold: stale holds are released (guarded
by the order id, so a courier already serving someone else is untouched), interrupted
assignments are finished with the courier already claimed. Nothing younger than the grace
period is touched: a recent claim is left to the attempt that may still be running, a courier
on a delivery that changed recently to the handler about to free it (racing it would only
cost commands).
"""

from __future__ import annotations

from delivery.assignment import Assigner
from delivery.domain import Verdict, judge_busy_courier
from delivery.store import Deliveries, Fleet, state_of
from sagakit.clock import now_ms
from sagakit.logs import get_logger

log = get_logger("delivery.janitor")


class FleetJanitor:
    def __init__(
        self, deliveries: Deliveries, fleet: Fleet, assigner: Assigner, *, grace_s: float
    ) -> None:
        self.deliveries = deliveries
        self.fleet = fleet
        self.assigner = assigner
        self._grace_ms = int(grace_s * 1000)

    async def reconcile(self) -> int:
        """One pass; how many couriers it released or put to work."""
        busy = await self.fleet.busy()
        deliveries = await self.deliveries.get_many(
            [c["order_id"] for c in busy if "order_id" in c]
        )
        now = now_ms()
        repaired = 0
        for courier in busy:
            order_id = courier.get("order_id")
            if order_id is None:
                continue
            doc = deliveries.get(order_id)
            verdict = judge_busy_courier(None if doc is None else state_of(doc), courier["_id"])
            settled = now - int(courier.get("claimed_ms", 0)) >= self._grace_ms
            # A courier on a delivery that ended (or went to another courier) a moment ago is
            # about to be freed by the handler that wrote it: only a crash leaves it for long.
            quiet = doc is None or now - int(doc.get("updated_ms", 0)) >= self._grace_ms
            if verdict is Verdict.RELEASE and settled and quiet:
                if await self.fleet.release(courier["_id"], order_id):
                    log.info(
                        "freed a stranded courier", courier_id=courier["_id"], order_id=order_id
                    )
                    repaired += 1
                    self.assigner.poke()
            elif verdict is Verdict.RESUME_ASSIGNMENT and settled and doc is not None:
                log.info(
                    "resuming an interrupted assignment",
                    courier_id=courier["_id"],
                    order_id=order_id,
                )
                await self.assigner.assign(doc)
                repaired += 1
        return repaired
