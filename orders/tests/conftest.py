from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from redis.asyncio import Redis

from orders.app import build_service
from orders.settings import OrdersSettings
from saga_contracts.secrets import Secrets
from saga_contracts.topology import Streams
from sagakit.connections import redis_client
from sagakit.publisher import Publisher
from sagakit.settings import ConnectionSettings
from sagakit.testing.services import running
from sagakit.testing.workers import fast_settings
from sagakit.web import ServiceApp

OPERATOR_KEY = "operator-key-for-tests"
SECRETS = Secrets(operator_api_key=OPERATOR_KEY, tracking_secret="tracking-secret-for-tests")
CUSTOMER = {"name": "Ada Lovelace", "address": "12 Analytical Row, London", "phone": "+44 20 1234"}


@dataclass
class OrdersUnderTest:
    service: ServiceApp
    client: httpx.AsyncClient
    streams: Streams
    redis: Redis
    publisher: Publisher

    async def place(
        self, items: list[dict[str, Any]] | None = None, **headers: str
    ) -> httpx.Response:
        body = {"customer": CUSTOMER, "items": items or [{"item_id": "margherita", "quantity": 2}]}
        return await self.client.post("/api/orders", json=body, headers=headers)

    @property
    def operator(self) -> dict[str, str]:
        return {"X-API-Key": OPERATOR_KEY}


StartOrders = Callable[..., Awaitable[OrdersUnderTest]]


@pytest_asyncio.fixture
async def start_orders(
    redis_url: str, mongo_url: str, namespace: str
) -> AsyncIterator[StartOrders]:
    """Start an orders service on its own database and stream prefix; settings overridable."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> OrdersUnderTest:
            connections = ConnectionSettings(
                redis_url=redis_url,
                mongo_url=mongo_url,
                mongo_db=f"t_{uuid.uuid4().hex[:10]}",
                consumer_name="orders-test",
                stream_prefix=f"{namespace}.",
            )
            settings = OrdersSettings(deadline_poll_s=0.05, **overrides)
            service = build_service(settings, connections, fast_settings(), SECRETS)
            (client,) = await stack.enter_async_context(running(service))
            redis = redis_client(redis_url)
            stack.push_async_callback(redis.aclose)
            return OrdersUnderTest(
                service, client, Streams(connections.stream_prefix), redis, Publisher(redis)
            )

        yield start


@pytest_asyncio.fixture
async def orders_app(start_orders: StartOrders) -> OrdersUnderTest:
    return await start_orders()
