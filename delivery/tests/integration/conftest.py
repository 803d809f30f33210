"""A running delivery service on the test Redis and MongoDB, driven only through its streams
(and its HTTP routes), plus helpers to read what it published."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from delivery.app import build_service
from delivery.settings import DeliverySettings
from saga_contracts.messages import (
    CancelDelivery,
    CourierDelivered,
    CourierFailed,
    CourierPickedUp,
    RequestDelivery,
)
from saga_contracts.secrets import Secrets
from saga_contracts.topology import Groups, Streams
from sagakit.envelope import Envelope, Message
from sagakit.publisher import Publisher
from sagakit.replies import entries
from sagakit.settings import ConnectionSettings
from sagakit.testing.services import running
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import fast_settings
from sagakit.web import ServiceApp

Db = AsyncDatabase[dict[str, Any]]
OPERATOR_KEY = "o" * 20
REPORTS: dict[str, type[CourierPickedUp | CourierDelivered | CourierFailed]] = {
    "picked_up": CourierPickedUp,
    "delivered": CourierDelivered,
    "failed": CourierFailed,
}


@dataclass
class Harness:
    service: ServiceApp
    http: httpx.AsyncClient
    streams: Streams
    redis: Redis
    publisher: Publisher
    db: Db

    # ---- driving -----------------------------------------------------------------------------

    async def send(self, stream: str, message: Message, key: str) -> Envelope:
        envelope = message.envelope(key=key, version=1)
        await self.publisher.publish(stream, envelope)
        return envelope

    async def request(self, order_id: str, address: str = "1 Main St") -> Envelope:
        return await self.send(
            self.streams.delivery_commands,
            RequestDelivery(order_id=order_id, address=address),
            order_id,
        )

    async def cancel(self, order_id: str) -> Envelope:
        return await self.send(
            self.streams.delivery_commands, CancelDelivery(order_id=order_id), order_id
        )

    async def report(self, kind: str, order_id: str, courier_id: str) -> Envelope:
        message = REPORTS[kind](order_id=order_id, courier_id=courier_id)
        return await self.send(self.streams.couriers_events, message, order_id)

    async def replay(self, stream: str, envelope: Envelope) -> None:
        """The same message again (a redelivery after a crash, a duplicate publish)."""
        await self.publisher.publish(stream, envelope)

    # ---- observing ---------------------------------------------------------------------------

    async def published(
        self, stream: str, type_: str | None = None, order_id: str | None = None
    ) -> list[Envelope]:
        found = [Envelope.from_fields(f) for _, f in entries(await self.redis.xrange(stream))]
        return [
            e
            for e in found
            if (type_ is None or e.type == type_) and (order_id is None or e.key == order_id)
        ]

    async def events(self, type_: str | None = None, order_id: str | None = None) -> list[Envelope]:
        return await self.published(self.streams.delivery_events, type_, order_id)

    async def dispatches(self, order_id: str | None = None) -> list[Envelope]:
        return await self.published(self.streams.couriers_commands, "courier.dispatch", order_id)

    async def wait_event(self, type_: str, order_id: str, timeout_s: float = 10.0) -> Envelope:
        async def seen() -> bool:
            return bool(await self.events(type_, order_id))

        await eventually(seen, timeout_s=timeout_s, what=f"{type_} for {order_id}")
        return (await self.events(type_, order_id))[0]

    async def delivery(self, order_id: str) -> dict[str, Any] | None:
        return await self.db.deliveries.find_one({"_id": order_id})

    async def courier(self, courier_id: str) -> dict[str, Any]:
        doc = await self.db.couriers.find_one({"_id": courier_id})
        assert doc is not None, courier_id
        return doc

    async def wait_status(self, order_id: str, status: str) -> dict[str, Any]:
        async def reached() -> bool:
            doc = await self.delivery(order_id)
            return doc is not None and doc["status"] == status

        await eventually(reached, what=f"delivery {order_id} {status}")
        doc = await self.delivery(order_id)
        assert doc is not None
        return doc

    async def wait_idle(self, courier_id: str) -> None:
        async def idle() -> bool:
            return bool((await self.courier(courier_id))["status"] == "idle")

        await eventually(idle, what=f"{courier_id} idle")

    async def drained(self) -> None:
        """Wait until the service has handled and acknowledged everything sent to it."""

        async def done() -> bool:
            for stream in (self.streams.delivery_commands, self.streams.couriers_events):
                last = await self.redis.xrevrange(stream, count=1)
                if not last:
                    continue
                groups: dict[str, dict[str, Any]] = {
                    g["name"]: g for g in await self.redis.xinfo_groups(stream)
                }
                group = groups.get(Groups.DELIVERY)
                if group is None or group["pending"] or group["last-delivered-id"] != last[0][0]:
                    return False
            return True

        await eventually(done, what="all messages handled")


Start = Callable[..., contextlib.AbstractAsyncContextManager[Harness]]


@pytest.fixture
def start_delivery(
    redis_url: str, mongo_url: str, mongo_db: Db, namespace: str, redis: Redis, publisher: Publisher
) -> Start:
    """`async with start_delivery(fleet=2, no_courier_timeout_s=1) as h:` runs the service."""

    @contextlib.asynccontextmanager
    async def start(
        *, fleet: int = 3, no_courier_timeout_s: float = 30.0, grace_s: float = 0.3
    ) -> AsyncIterator[Harness]:
        settings = DeliverySettings(
            courier_fleet_size=fleet,
            no_courier_timeout_s=no_courier_timeout_s,
            assign_interval_s=0.3,
            fleet_janitor_interval_s=0.2,
            stranded_courier_grace_s=grace_s,
            deadline_poll_interval_s=0.05,
            outbox_sweep_interval_s=0.5,
            outbox_sweep_after_s=1.0,
        )
        connections = ConnectionSettings(
            redis_url=redis_url,
            mongo_url=mongo_url,
            mongo_db=mongo_db.name,
            consumer_name="delivery-test",
            stream_prefix=f"{namespace}.",
        )
        service = build_service(
            settings=settings,
            connections=connections,
            worker_settings=fast_settings(handler_timeout_s=3.0, claim_idle_ms=5_000),
            secrets=Secrets(operator_api_key=OPERATOR_KEY, tracking_secret="s" * 20),
        )
        async with running(service) as (http,):
            yield Harness(service, http, Streams(f"{namespace}."), redis, publisher, mongo_db)

    return start
