"""Stream handlers: `order.status_changed` on `orders.events` feeds the timeline and the head."""

from __future__ import annotations

from notifications.fanout import StatusFeed
from notifications.store import TrackingStore
from saga_contracts.messages import OrderStatusChanged
from saga_contracts.topology import Streams
from sagakit.envelope import PoisonMessage
from sagakit.routing import Delivery, Router


def build_router(streams: Streams, store: TrackingStore, feed: StatusFeed) -> Router:
    router = Router()

    @router.subscriber(streams.orders_events, OrderStatusChanged)
    async def on_status_changed(event: OrderStatusChanged, delivery: Delivery) -> None:
        if event.version < 1:
            raise PoisonMessage(f"order version must be >= 1, got {event.version}")
        if event.order_id != delivery.envelope.key:
            raise PoisonMessage("order_id differs from the envelope key")
        # Idempotent: a duplicate or stale event stores nothing and moves nothing. A crash after
        # the head moved but before the fan-out loses only the push; sockets catch up from
        # the database on their next heartbeat.
        await feed.publish(await store.record(event))

    return router
