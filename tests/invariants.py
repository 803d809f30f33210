"""What must hold after any fault, checked from outside: every accepted order terminal,
versions gap-free from 1, stock conserved; and, read from the stores, each order stored once,
every durable deadline fired (or withdrawn by the step it guarded), no courier left held."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import httpx

from orders.menu import DEFAULT_MENU, DEFAULT_STOCK
from sagakit.clock import now_ms
from sagakit.connections import mongo_client, redis_client
from sagakit.deadlines import DEADLINE_AT

from .system import order_body

TERMINAL = ("delivered", "cancelled")


async def place(client: httpx.AsyncClient, n: int) -> httpx.Response:
    return await client.post(
        "/api/orders", json=order_body(n), headers={"Idempotency-Key": f"order-{n}"}
    )


async def until_terminal(
    client: httpx.AsyncClient, orders: dict[str, str], timeout_s: float = 90.0
) -> dict[str, dict[str, Any]]:
    """Every order's tracking view once all are delivered or cancelled."""
    deadline = time.monotonic() + timeout_s
    views: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for order_id, token in orders.items():
            if views.get(order_id, {}).get("status") in TERMINAL:
                continue
            response = await client.get(
                f"/api/tracking/{order_id}", headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code == 200:
                views[order_id] = response.json()
        if len(views) == len(orders) and all(v["status"] in TERMINAL for v in views.values()):
            return views
        await asyncio.sleep(0.5)
    stuck = {k: v.get("status") for k, v in views.items() if v.get("status") not in TERMINAL}
    raise AssertionError(f"orders not terminal after {timeout_s}s: {stuck}")


def check_invariants(
    views: dict[str, dict[str, Any]], bodies: dict[str, dict[str, Any]], menu: list[dict[str, Any]]
) -> None:
    sold: Counter[str] = Counter()
    for order_id, view in views.items():
        versions = [entry["version"] for entry in view["timeline"]]
        assert versions == list(range(1, view["version"] + 1)), (order_id, versions)
        statuses = [entry["status"] for entry in view["timeline"]]
        assert statuses[0] == "placed"
        if "preparing" in statuses:  # the kitchen took the food: it stays sold
            for line in bodies[order_id]["items"]:
                sold[line["item_id"]] += line["quantity"]
    stock = {item["id"]: item["stock"] for item in menu}
    assert stock == {item["id"]: DEFAULT_STOCK - sold[item["id"]] for item in DEFAULT_MENU}


async def settled_menu(
    client: httpx.AsyncClient, views: dict[str, dict[str, Any]], bodies: dict[str, dict[str, Any]]
) -> None:
    """Stock settles shortly after the last order ends: wait for it, then check."""
    deadline = time.monotonic() + 20
    while True:
        menu = (await client.get("/api/menu")).json()
        try:
            check_invariants(views, bodies, menu)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


class Load:
    """Orders placed while something breaks; each with its own Idempotency-Key, so a client can
    retry an answer lost in the fault and get the original order (or a first one)."""

    def __init__(self) -> None:
        self.bodies: dict[int, dict[str, Any]] = {}

    async def place_ignoring_faults(self, client: httpx.AsyncClient, n: int) -> None:
        self.bodies[n] = order_body(n)
        with contextlib.suppress(httpx.TransportError):
            await place(client, n)

    async def settle(
        self, client: httpx.AsyncClient
    ) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
        """Retry every order with its key: returns {id: token} and {id: body} of those accepted."""
        orders: dict[str, str] = {}
        by_id: dict[str, dict[str, Any]] = {}
        for n, body in self.bodies.items():
            response = await place_until_answered(client, n)
            assert response.status_code in (201, 409), response.text
            if response.status_code == 201:
                created = response.json()
                orders[created["id"]] = created["tracking_token"]
                by_id[created["id"]] = body
        return orders, by_id


async def place_until_answered(
    client: httpx.AsyncClient, n: int, timeout_s: float = 60.0
) -> httpx.Response:
    """The same request again until it gets a final answer: a key cut off by a crash is taken over
    once IDEMPOTENCY_IN_FLIGHT_S has passed; 503 means a dependency is still coming back."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = await place(client, n)
        except httpx.TransportError:
            response = None
        retry = (
            response is None
            or response.status_code == 503
            or (
                response.status_code == 409
                and response.json()["detail"]["code"] == "idempotency_key_in_flight"
            )
        )
        if not retry:
            assert response is not None
            return response
        assert time.monotonic() < deadline, "no final answer to a retried order"
        await asyncio.sleep(0.5)


async def eventually(check: Callable[[], Awaitable[None]], timeout_s: float = 20.0) -> None:
    """`check` until it passes; its last failure once `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


# A due timer is taken within a poll (orders and delivery 0.2 s, actors 0.05 s); a timer
# overdue by more than this was not fired.
OVERDUE_SLACK_MS = 3_000
REPLY_SCHEDULE = "simulator.replies"  # the actors' delayed answers (simulator.actors.replies)


async def stores_settled(runtime: Mapping[str, Any], accepted: Collection[str]) -> None:
    """Once every accepted order is terminal, read from MongoDB and Redis (`runtime`: what
    runtime.json says):

    - each order is stored once: the orders in the database are exactly the accepted ones (a
      retried request never created a second order);
    - every durable deadline fired or was withdrawn by the transition that left its step: no
      order or delivery still holds `deadline_at`, and none of the actors' scheduled answers is
      overdue;
    - every delivery ended and no courier still holds an order.
    """
    mongo = mongo_client(runtime["mongo_url"])
    redis = redis_client(runtime["redis_url"])
    db = mongo[runtime["mongo_db"]]

    async def check() -> None:
        stored = {doc["_id"] async for doc in db.orders.find({}, {"_id": 1})}
        assert stored == set(accepted), {
            "stored, not accepted": sorted(stored - set(accepted)),
            "accepted, not stored": sorted(set(accepted) - stored),
        }
        now = now_ms()
        for collection in (db.orders, db.deliveries):
            held = [
                (doc["_id"], doc.get("status"), f"due in {doc[DEADLINE_AT] - now} ms")
                async for doc in collection.find({DEADLINE_AT: {"$exists": True}})
            ]
            assert not held, f"{collection.name} still holding a deadline: {held[:5]}"
        overdue = await redis.zrangebyscore(
            REPLY_SCHEDULE, "-inf", now - OVERDUE_SLACK_MS, start=0, num=5
        )
        assert not overdue, f"actors' answers overdue and not sent: {overdue}"
        open_deliveries = [
            (doc["_id"], doc["status"])
            async for doc in db.deliveries.find(
                {"status": {"$nin": ["delivered", "failed", "no_courier", "cancelled"]}}
            )
        ]
        assert not open_deliveries, f"deliveries not ended: {open_deliveries[:5]}"
        held_couriers = [
            (doc["_id"], doc.get("order_id"))
            async for doc in db.couriers.find({"status": {"$ne": "idle"}})
        ]
        assert not held_couriers, f"couriers still held: {held_couriers[:5]}"

    try:
        await eventually(check)
    finally:
        await redis.aclose()
        await mongo.close()
