"""The whole saga: orders, delivery, notifications and the simulator's actors, on real Redis and
the embedded MongoDB, through success, every failure reason and customer cancel."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from delivery.settings import DeliverySettings
from notifications.settings import NotificationsSettings
from notifications.store import KnownHeads
from orders.menu import DEFAULT_MENU, DEFAULT_STOCK
from orders.settings import OrdersSettings
from orders_saga_cli.system import SystemSettings, build_services
from saga_contracts.secrets import Secrets
from saga_contracts.topology import Streams
from sagakit.connections import redis_client
from sagakit.dead_letters import DeadLetters
from sagakit.settings import ConnectionSettings
from sagakit.testing.services import running
from sagakit.testing.workers import fast_settings
from sagakit.web import ServiceApp
from simulator.actors.settings import ActorSettings

SECRETS = Secrets(operator_api_key="o" * 24, tracking_secret="t" * 24)
CUSTOMER = {"name": "Alan Turing", "address": "2 Bletchley Park", "phone": "+44 1908 640404"}
TERMINAL = ("delivered", "cancelled")
NO_FAILURES = {"payment_decline_rate": 0, "kitchen_reject_rate": 0, "courier_fail_rate": 0}


@dataclass
class Saga:
    orders: httpx.AsyncClient
    delivery: httpx.AsyncClient
    notifications: httpx.AsyncClient
    services: dict[str, ServiceApp]

    async def place(self, n: int = 0) -> dict[str, Any]:
        items = ["margherita", "carbonara", "tiramisu", "espresso"]
        body = {"customer": CUSTOMER, "items": [{"item_id": items[n % 4], "quantity": 1 + n % 2}]}
        response = await self.orders.post("/api/orders", json=body)
        assert response.status_code == 201, response.text
        return {**response.json(), "body": body}

    async def tracking(self, order: dict[str, Any]) -> dict[str, Any]:
        response = await self.notifications.get(
            f"/api/tracking/{order['id']}",
            headers={"Authorization": f"Bearer {order['tracking_token']}"},
        )
        return dict(response.json()) if response.status_code == 200 else {}

    async def until_terminal(
        self, orders: list[dict[str, Any]], timeout_s: float = 30.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            views = [await self.tracking(order) for order in orders]
            if all(view.get("status") in TERMINAL for view in views):
                return views
            if time.monotonic() > deadline:
                stuck = [v.get("status") for v in views if v.get("status") not in TERMINAL]
                raise AssertionError(f"orders not terminal: {stuck}")
            await asyncio.sleep(0.1)

    async def stock(self) -> dict[str, int]:
        return {item["id"]: item["stock"] for item in (await self.orders.get("/api/menu")).json()}


@contextlib.asynccontextmanager
async def saga_system(
    redis_url: str,
    mongo_url: str,
    namespace: str,
    *,
    orders: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
    actors: dict[str, Any] | None = None,
    notifications: dict[str, Any] | None = None,
) -> AsyncIterator[Saga]:
    connections = ConnectionSettings(
        redis_url=redis_url,
        mongo_url=mongo_url,
        mongo_db=f"t_{uuid.uuid4().hex[:10]}",
        consumer_name="system-test",
        stream_prefix=f"{namespace}.",
    )
    services = build_services(
        connections,
        SECRETS,
        SystemSettings(
            orders=OrdersSettings(deadline_poll_s=0.05, **(orders or {})),
            delivery=DeliverySettings(
                assign_interval_s=0.1, deadline_poll_interval_s=0.05, **(delivery or {})
            ),
            notifications=NotificationsSettings(**(notifications or {})),
            actors=ActorSettings.benchmark(**{**NO_FAILURES, **(actors or {})}),
            worker=fast_settings(),
        ),
    )
    async with running(*services.values()) as (orders_client, delivery_client, tracking, _):
        yield Saga(orders_client, delivery_client, tracking, services)


def assert_gap_free(view: dict[str, Any]) -> None:
    versions = [entry["version"] for entry in view["timeline"]]
    assert versions == list(range(1, view["version"] + 1)), versions


async def assert_stock_conserved(
    saga: Saga, orders: list[dict[str, Any]], views: list[dict[str, Any]]
) -> None:
    """Stock at the start = stock now + what was sold (the kitchen had accepted it)."""
    sold: Counter[str] = Counter()
    for order, view in zip(orders, views, strict=True):
        if "preparing" in [entry["status"] for entry in view["timeline"]]:
            for line in order["body"]["items"]:
                sold[line["item_id"]] += line["quantity"]
    expected = {item["id"]: DEFAULT_STOCK - sold[item["id"]] for item in DEFAULT_MENU}
    deadline = time.monotonic() + 10
    while await saga.stock() != expected:  # settling follows the terminal event closely
        assert time.monotonic() < deadline, (await saga.stock(), expected)
        await asyncio.sleep(0.1)


async def test_many_orders_all_delivered_with_stock_sold(
    redis_url: str, mongo_url: str, namespace: str
) -> None:
    async with saga_system(redis_url, mongo_url, namespace) as saga:
        orders = await asyncio.gather(*(saga.place(n) for n in range(40)))
        views = await saga.until_terminal(orders)
        assert Counter(view["status"] for view in views) == {"delivered": 40}
        for view in views:
            assert_gap_free(view)
            assert [e["status"] for e in view["timeline"]] == [
                "placed",
                "paid",
                "preparing",
                "ready",
                "courier_assigned",
                "picked_up",
                "delivered",
            ]
        await assert_stock_conserved(saga, orders, views)
        couriers = await saga.delivery.get("/api/couriers", headers={"X-API-Key": "o" * 24})
        assert all(courier["status"] == "idle" for courier in couriers.json())


FAILURES = [
    ("payment_declined", {"actors": {"payment_decline_rate": 1.0}}, False),
    ("kitchen_rejected", {"actors": {"kitchen_reject_rate": 1.0}}, False),
    ("delivery_failed", {"actors": {"courier_fail_rate": 1.0}}, True),
    ("no_courier", {"delivery": {"courier_fleet_size": 0, "no_courier_timeout_s": 0.5}}, True),
    (
        "timeout",
        {"actors": {"payment_silence_rate": 1.0}, "orders": {"payment_timeout_s": 0.5}},
        False,
    ),
]


@pytest.mark.parametrize(
    ("reason", "config", "cooked"), FAILURES, ids=[reason for reason, _, _ in FAILURES]
)
async def test_each_failure_ends_cancelled_with_its_reason_and_stock_right(
    redis_url: str,
    mongo_url: str,
    namespace: str,
    reason: str,
    config: dict[str, Any],
    cooked: bool,
) -> None:
    async with saga_system(redis_url, mongo_url, namespace, **config) as saga:
        orders = await asyncio.gather(*(saga.place(n) for n in range(6)))
        views = await saga.until_terminal(orders)
        for view in views:
            assert view["status"] == "cancelled"
            assert view["timeline"][-1]["reason"] == reason
            assert ("preparing" in [e["status"] for e in view["timeline"]]) == cooked
            assert_gap_free(view)
        await assert_stock_conserved(saga, orders, views)


async def test_customer_cancel_releases_stock_and_stops_the_saga(
    redis_url: str, mongo_url: str, namespace: str
) -> None:
    slow_payment = {
        "actors": {
            "actors_zero_delay": False,
            "payment_delay": "fixed:800",
            "kitchen_accept_delay": "0",
            "kitchen_cook_delay": "0",
            "courier_pickup_delay": "0",
            "courier_travel_delay": "0",
        }
    }
    async with saga_system(redis_url, mongo_url, namespace, **slow_payment) as saga:
        orders = [await saga.place(n) for n in range(4)]
        for order in orders:
            response = await saga.orders.post(
                f"/api/orders/{order['id']}/cancel",
                headers={"Authorization": f"Bearer {order['tracking_token']}"},
            )
            assert response.status_code == 202, response.text
        views = await saga.until_terminal(orders)
        await asyncio.sleep(1.2)  # the gateway's late authorisations arrive and are voided
        for order, view in zip(orders, views, strict=True):
            assert view["status"] == "cancelled"
            assert view["timeline"][-1]["reason"] == "customer_cancelled"
            assert (await saga.tracking(order))["version"] == 2  # nothing moved it on
        await assert_stock_conserved(saga, orders, views)


async def test_garbage_in_every_stream_is_dead_lettered_and_orders_still_complete(
    redis_url: str, mongo_url: str, namespace: str
) -> None:
    streams = Streams(f"{namespace}.")
    redis = redis_client(redis_url)
    try:
        async with saga_system(redis_url, mongo_url, namespace) as saga:
            for stream in streams.all():
                await redis.xadd(stream, {"garbage": "\x00not an envelope"})
                await redis.xadd(
                    stream,
                    {
                        "id": "x",
                        "type": "order.status_changed",
                        "key": "k",
                        "version": "1",
                        "occurred_at": "2026-01-01T00:00:00",
                        "payload": '{"not": "the model"}',
                    },
                )
            orders = await asyncio.gather(*(saga.place(n) for n in range(10)))
            views = await saga.until_terminal(orders)
            assert Counter(view["status"] for view in views) == {"delivered": 10}
            letters = DeadLetters(redis)
            readers = streams.readers()

            async def all_dead_lettered() -> bool:
                # each group reading a stream gives up on the unparseable entry; the second one
                # is poison only where that type is handled (order.status_changed)
                for stream in streams.all():
                    if await letters.count(stream) < len(readers[stream]):
                        return False
                return True

            deadline = time.monotonic() + 10
            while not await all_dead_lettered():
                assert time.monotonic() < deadline, {
                    s: await letters.count(s) for s in streams.all()
                }
                await asyncio.sleep(0.1)
            reasons = {letter.reason for s in streams.all() for letter in await letters.list(s)}
            assert "unparseable" in reasons and "invalid_payload" in reasons
    finally:
        await redis.aclose()


async def test_a_handler_crashing_on_one_order_spares_the_others_and_replay_finishes_it(
    redis_url: str, mongo_url: str, namespace: str
) -> None:
    streams = Streams(f"{namespace}.")
    redis = redis_client(redis_url)
    try:
        async with saga_system(
            redis_url, mongo_url, namespace, orders={"payment_timeout_s": 120}
        ) as saga:
            engine = saga.services["orders"].app.state.orders.saga
            real_advance = engine.advance
            doomed: set[str] = set()

            async def crashes_on_one_order(order_id: str, *args: Any, **kwargs: Any) -> Any:
                if order_id in doomed:
                    raise RuntimeError("a bug that only this order's data triggers")
                return await real_advance(order_id, *args, **kwargs)

            engine.advance = crashes_on_one_order
            victim = await saga.place(0)
            doomed.add(victim["id"])
            others = await asyncio.gather(*(saga.place(n) for n in range(1, 9)))
            views = await saga.until_terminal(others)
            assert Counter(view["status"] for view in views) == {"delivered": 8}

            letters = DeadLetters(redis)
            deadline = time.monotonic() + 15
            while await letters.count(streams.payments_events) == 0:
                assert time.monotonic() < deadline, "the failing reply was not dead-lettered"
                await asyncio.sleep(0.1)
            (letter,) = await letters.list(streams.payments_events)
            assert letter.reason == "max_deliveries" and letter.fields["key"] == victim["id"]
            assert (await saga.tracking(victim))["status"] == "placed"

            doomed.clear()  # the fix is deployed
            assert await letters.replay(streams.payments_events) == 1
            (view,) = await saga.until_terminal([victim])
            assert view["status"] == "delivered"
            assert [e["version"] for e in view["timeline"]] == list(range(1, 8))
    finally:
        await redis.aclose()


async def test_a_status_notifications_lost_is_republished_and_the_view_completes(
    redis_url: str, mongo_url: str, namespace: str
) -> None:
    repair = {"reconcile_interval_s": 0.1, "reconcile_waiting_s": 0.1, "reconcile_repeat_s": 0.5}
    async with saga_system(redis_url, mongo_url, namespace, notifications=repair) as saga:
        order = await saga.place()
        (done,) = await saga.until_terminal([order])
        assert done["status"] == "delivered" and done["version"] == 7
        # As if Redis had lost v3 before notifications read it: the head stops at v2 and v4..v7
        # wait for it.
        heads = saga.services["notifications"].runtime.db["order_heads"]
        doc = await heads.find_one({"_id": order["id"]})
        assert doc is not None
        v2 = doc["timeline"]["v000002"]
        await heads.update_one(
            {"_id": order["id"]},
            {
                "$set": {
                    "version": 2,
                    "status": v2["status"],
                    "at": v2["at"],
                    "waiting_since_ms": 1,
                },
                "$unset": {"timeline.v000003": ""},
            },
        )
        # ... and as if this process had never seen more than v2 (its memory of heads only
        # ever lags the database; here the database was set back under it).
        saga.services["notifications"].app.state.services.store.known = KnownHeads()
        assert (await saga.tracking(order))["version"] == 2

        (repaired,) = await saga.until_terminal([order], timeout_s=10)
        assert repaired["status"] == "delivered" and repaired["version"] == 7
        assert_gap_free(repaired)
