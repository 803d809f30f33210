"""The messages a transition emits: facts on `delivery.events`, the dispatch on
`couriers.commands`. They go in the outbox of the write that makes them true."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from delivery.domain import Effect
from saga_contracts.messages import (
    CourierAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    DispatchCourier,
    NoCourier,
)
from saga_contracts.topology import Streams
from sagakit.envelope import Envelope, Message, utcnow
from sagakit.outbox import Emit


@dataclass(frozen=True)
class Context:
    """What the messages of one transition are about."""

    order_id: str
    version: int  # the delivery's version after the write
    courier_id: str
    address: str
    detail: str
    causation: Envelope | None
    # Used when nothing triggered the write (deadline, assignment sweep): the request's id
    # and trace, so the saga's trace stays connected.
    request_id: str | None = None
    traceparent: str | None = None


def emits_for(effects: Sequence[Effect], context: Context, streams: Streams) -> list[Emit]:
    # Several events of one write share a version; distinct, increasing timestamps keep
    # their order when the outbox relay sorts them.
    first = utcnow()
    return [
        Emit(stream, _envelope(message, context, first + timedelta(microseconds=n)))
        for n, (stream, message) in enumerate(_message(e, context, streams) for e in effects)
    ]


def _envelope(message: Message, context: Context, occurred_at: datetime) -> Envelope:
    envelope = message.envelope(
        key=context.order_id,
        version=context.version,
        causation=context.causation,
        occurred_at=occurred_at,
    )
    if context.causation is None and context.request_id is not None:
        envelope = envelope.model_copy(
            update={"causation_id": context.request_id, "traceparent": context.traceparent}
        )
    return envelope


def _message(effect: Effect, c: Context, streams: Streams) -> tuple[str, Message]:
    events = streams.delivery_events
    match effect:
        case Effect.ANNOUNCE_ASSIGNED:
            return events, CourierAssigned(order_id=c.order_id, courier_id=c.courier_id)
        case Effect.DISPATCH:
            return streams.couriers_commands, DispatchCourier(
                order_id=c.order_id, courier_id=c.courier_id, address=c.address
            )
        case Effect.ANNOUNCE_PICKED_UP:
            return events, DeliveryPickedUp(order_id=c.order_id, courier_id=c.courier_id)
        case Effect.ANNOUNCE_DELIVERED:
            return events, DeliveryDelivered(order_id=c.order_id, courier_id=c.courier_id)
        case Effect.ANNOUNCE_FAILED:
            return events, DeliveryFailed(order_id=c.order_id, detail=c.detail)
        case Effect.ANNOUNCE_NO_COURIER:
            return events, NoCourier(order_id=c.order_id)
