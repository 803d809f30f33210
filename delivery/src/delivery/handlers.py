"""Stream handlers: delivery commands from the saga, courier reports from the couriers, and
the no-courier deadline. Each is idempotent: redelivered, duplicated or reordered messages
meet guards that no longer match, and a crash at any line is finished by the redelivery, the
assignment sweep or the fleet janitor."""

from __future__ import annotations

from delivery.assignment import Assigner
from delivery.domain import Cancel, CourierReport, DeadlinePassed, Report, Status
from delivery.flow import DeliveryFlow
from delivery.store import Deliveries, Document, cancelled_before_request, waiting_delivery
from saga_contracts.messages import (
    CancelDelivery,
    CourierDelivered,
    CourierFailed,
    CourierPickedUp,
    RequestDelivery,
)
from saga_contracts.topology import Streams
from sagakit.clock import now_ms
from sagakit.routing import Delivery as Received
from sagakit.routing import Router


class DeliveryHandlers:
    def __init__(
        self,
        deliveries: Deliveries,
        flow: DeliveryFlow,
        assigner: Assigner,
        *,
        no_courier_timeout_s: float,
    ) -> None:
        self.deliveries = deliveries
        self.flow = flow
        self.assigner = assigner
        self._timeout_ms = int(no_courier_timeout_s * 1000)

    def router(self, streams: Streams) -> Router:
        router = Router()
        router.add(streams.delivery_commands, RequestDelivery, self.on_request)
        router.add(streams.delivery_commands, CancelDelivery, self.on_cancel)
        router.add(streams.couriers_events, CourierPickedUp, self.on_picked_up)
        router.add(streams.couriers_events, CourierDelivered, self.on_delivered)
        router.add(streams.couriers_events, CourierFailed, self.on_failed)
        return router

    async def on_request(self, command: RequestDelivery, received: Received) -> None:
        now = now_ms()
        new = waiting_delivery(
            command.order_id,
            command.address,
            now=now,
            deadline=now + self._timeout_ms,
            request=received.envelope,
        )
        created = await self.flow.create(new)
        doc = new if created else await self.flow.load(command.order_id)
        if doc is None or doc["status"] != Status.WAITING:
            return
        await self.assigner.assign_in_turn(doc, causation=received.envelope)

    async def on_cancel(self, command: CancelDelivery, received: Received) -> None:
        order_id = command.order_id
        outcome = await self.flow.advance(
            order_id, Cancel(), consumed=received.envelope.id, causation=received.envelope
        )
        if outcome.doc is None:
            if await self.deliveries.create(cancelled_before_request(order_id, now=now_ms())):
                return
            # The request was handled meanwhile (by another replica): cancel that delivery.
            outcome = await self.flow.advance(
                order_id, Cancel(), consumed=received.envelope.id, causation=received.envelope
            )
        if outcome.freed_courier:
            self.assigner.poke()

    async def on_picked_up(self, event: CourierPickedUp, received: Received) -> None:
        await self._report(
            CourierReport(Report.PICKED_UP, event.courier_id), event.order_id, received
        )

    async def on_delivered(self, event: CourierDelivered, received: Received) -> None:
        await self._report(
            CourierReport(Report.DELIVERED, event.courier_id), event.order_id, received
        )

    async def on_failed(self, event: CourierFailed, received: Received) -> None:
        await self._report(
            CourierReport(Report.FAILED, event.courier_id, event.detail), event.order_id, received
        )

    async def _report(self, report: CourierReport, order_id: str, received: Received) -> None:
        outcome = await self.flow.advance(
            order_id, report, consumed=received.envelope.id, causation=received.envelope
        )
        if outcome.freed_courier:
            self.assigner.poke()

    async def on_deadline(self, doc: Document) -> None:
        """The no-courier deadline of a (probably) waiting delivery is due."""
        await self.flow.advance(doc["_id"], DeadlinePassed(), doc=doc)
