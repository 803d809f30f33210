from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from notifications.app import build_service
from notifications.settings import NotificationsSettings
from saga_contracts.messages import CancelReason, OrderStatus, OrderStatusChanged
from saga_contracts.secrets import Secrets
from saga_contracts.tokens import tracking_token
from saga_contracts.topology import Streams
from sagakit.envelope import Envelope
from sagakit.publisher import Publisher
from sagakit.settings import ConnectionSettings
from sagakit.testing.services import running
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import fast_settings
from sagakit.web import ServiceApp

OPERATOR_KEY = "o" * 20
TRACKING_SECRET = "s" * 20
SECRETS = Secrets(operator_api_key=OPERATOR_KEY, tracking_secret=TRACKING_SECRET)
OPERATOR = {"X-API-Key": OPERATOR_KEY}
# The statuses of a delivered order, by version.
HAPPY_PATH = [
    OrderStatus.PLACED,
    OrderStatus.PAID,
    OrderStatus.PREPARING,
    OrderStatus.READY,
    OrderStatus.COURIER_ASSIGNED,
    OrderStatus.PICKED_UP,
    OrderStatus.DELIVERED,
]


def new_order_id() -> str:
    return uuid.uuid4().hex


def token(order_id: str) -> str:
    return tracking_token(TRACKING_SECRET, order_id)


def bearer(order_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(order_id)}"}


def status_event(
    order_id: str,
    version: int,
    status: OrderStatus | None = None,
    reason: CancelReason | None = None,
) -> Envelope:
    event = OrderStatusChanged(
        order_id=order_id,
        status=status or HAPPY_PATH[version - 1],
        version=version,
        reason=reason,
        at=datetime.now(UTC),
    )
    return event.envelope(key=order_id, version=version)


@dataclass
class Notifications:
    service: ServiceApp
    client: httpx.AsyncClient
    streams: Streams
    publisher: Publisher

    async def publish(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            await self.publisher.publish(self.streams.orders_events, envelope)

    async def head_version(self, order_id: str) -> int:
        doc = await self.service.runtime.db["order_heads"].find_one({"_id": order_id})
        return int(doc["version"]) if doc else 0

    async def wait_head(self, order_id: str, version: int) -> None:
        async def reached() -> bool:
            return await self.head_version(order_id) == version

        await eventually(reached, what=f"head of {order_id} at v{version}")


StartNotifications = Callable[..., Awaitable[Notifications]]


@pytest_asyncio.fixture
async def start_notifications(
    redis_url: str,
    mongo_url: str,
    mongo_db: AsyncDatabase[dict[str, Any]],
    namespace: str,
    publisher: Publisher,
) -> AsyncIterator[StartNotifications]:
    """Start notifications replicas sharing one database and stream prefix (one group)."""
    async with contextlib.AsyncExitStack() as stack:
        started = 0

        async def start(**settings: Any) -> Notifications:
            nonlocal started
            started += 1
            connections = ConnectionSettings(
                redis_url=redis_url,
                mongo_url=mongo_url,
                mongo_db=mongo_db.name,
                consumer_name=f"notifications-{started}",
                stream_prefix=f"{namespace}.",
            )
            service = build_service(
                settings=NotificationsSettings(**{"heartbeat_s": 5.0, **settings}),
                connections=connections,
                worker_settings=fast_settings(),
                secrets=SECRETS,
            )
            (client,) = await stack.enter_async_context(running(service))
            return Notifications(service, client, Streams(f"{namespace}."), publisher)

        yield start


def ws_url(base_url: str, path: str) -> str:
    return base_url.replace("http://", "ws://", 1) + path


async def recv_json(ws: ClientConnection, timeout_s: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        data = await ws.recv()
    message = json.loads(data)
    assert isinstance(message, dict)
    return message


async def next_message(ws: ClientConnection, timeout_s: float = 10.0) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message = await recv_json(ws, timeout_s)
        if message.get("type") != "heartbeat":
            return message


async def next_messages(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await next_message(ws) for _ in range(count)]


async def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    except ConnectionClosed:
        return ws.close_code
