"""Stream handlers: participants' replies drive the saga; the order's end settles its stock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from orders import stock
from orders.domain import Signal
from orders.saga import Saga, recorded_statuses
from orders.store import MenuStore
from saga_contracts.messages import (
    CourierAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    KitchenAccepted,
    KitchenReady,
    KitchenRejected,
    NoCourier,
    OrderStatusChanged,
    PaymentAuthorized,
    PaymentDeclined,
    RepublishStatuses,
)
from saga_contracts.topology import Streams
from sagakit.envelope import Message
from sagakit.publisher import Publisher
from sagakit.routing import Delivery, Router

# Which reply means which saga signal, per stream.
REPLIES: dict[str, list[tuple[type[Message], Signal]]] = {
    "payments": [
        (PaymentAuthorized, Signal.PAYMENT_AUTHORIZED),
        (PaymentDeclined, Signal.PAYMENT_DECLINED),
    ],
    "kitchen": [
        (KitchenAccepted, Signal.KITCHEN_ACCEPTED),
        (KitchenRejected, Signal.KITCHEN_REJECTED),
        (KitchenReady, Signal.KITCHEN_READY),
    ],
    "delivery": [
        (CourierAssigned, Signal.COURIER_ASSIGNED),
        (DeliveryPickedUp, Signal.PICKED_UP),
        (DeliveryDelivered, Signal.DELIVERED),
        (DeliveryFailed, Signal.DELIVERY_FAILED),
        (NoCourier, Signal.NO_COURIER),
    ],
}


def saga_router(saga: Saga, streams: Streams) -> Router:
    router = Router()
    stream_of = {
        "payments": streams.payments_events,
        "kitchen": streams.kitchen_events,
        "delivery": streams.delivery_events,
    }
    for participant, replies in REPLIES.items():
        for model, signal in replies:
            router.add(stream_of[participant], model, _signal_handler(saga, signal))
    return router


def _signal_handler(saga: Saga, signal: Signal) -> Callable[[Message, Delivery], Awaitable[None]]:
    async def handle(reply: Message, delivery: Delivery) -> None:
        await saga.advance(delivery.envelope.key, signal, cause=delivery.envelope)

    return handle


def stock_router(saga: Saga, menu: MenuStore, streams: Streams) -> Router:
    """When an order ends, return its reserved stock or keep it sold (each item exactly once)."""
    router = Router()

    @router.subscriber(streams.orders_events, OrderStatusChanged)
    async def settle_stock(event: OrderStatusChanged, delivery: Delivery) -> None:
        if not event.status.terminal:
            return
        order = await saga.load(event.order_id)
        if order is not None and order["version"] < event.version:  # remembered copy is older
            order = await saga.load(event.order_id, fresh=True)
        if order is not None:
            await stock.settle_stock(menu, order)

    return router


def republish_router(saga: Saga, publisher: Publisher, streams: Streams) -> Router:
    """Publish an order's recorded statuses again (notifications lost one); changes nothing.
    Orders recorded before the history existed have none and get nothing."""
    router = Router()

    @router.subscriber(streams.orders_commands, RepublishStatuses)
    async def republish(request: RepublishStatuses, delivery: Delivery) -> None:
        order = await saga.load(request.order_id, fresh=True)
        if order is None:
            return
        await publisher.publish_many(
            [
                (
                    streams.orders_events,
                    event.envelope(
                        key=event.order_id, version=event.version, causation=delivery.envelope
                    ),
                )
                for event in recorded_statuses(order, request.after_version)
            ]
        )

    return router
