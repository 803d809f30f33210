"""Reservations nobody settled: the janitor returns those of orders never created and settles
those of ended orders whose end event was lost, once each, and leaves the rest alone."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from orders.menu import DEFAULT_MENU
from orders.stock import ReservationJanitor
from orders.store import MenuStore
from sagakit.clock import installed
from sagakit.testing.clocks import TEN_MINUTES_MS, synced_clock

ITEM = DEFAULT_MENU[0]["id"]
HOUR_MS = 3_600_000


async def test_stale_reservations_are_settled_once_as_their_order_ended(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    menu = MenuStore(mongo_db.menu_items)
    await menu.seed(DEFAULT_MENU, stock=100)

    async def reserve(order_id: str, quantity: int, *, old: bool = True) -> None:
        assert await menu.reserve(ITEM, order_id, quantity)
        if old:  # made an hour ago
            await mongo_db.menu_items.update_one(
                {"_id": ITEM}, {"$inc": {f"reservations.{order_id}.t": -HOUR_MS}}
            )

    async def order(order_id: str, status: str, outcome: str | None, quantity: int) -> None:
        doc: dict[str, Any] = {
            "_id": order_id,
            "status": status,
            "lines": [{"item_id": ITEM, "quantity": quantity}],
        }
        if outcome is not None:
            doc["stock_outcome"] = outcome
        await mongo_db.orders.insert_one(doc)

    await reserve("never-created", 1)
    await reserve("cancelled", 2)
    await order("cancelled", "cancelled", "release", 2)
    await reserve("delivered", 4)
    await order("delivered", "delivered", "sold", 4)
    await reserve("still-cooking", 8)
    await order("still-cooking", "preparing", None, 8)
    await reserve("just-placed", 16, old=False)  # its request may still be creating it
    assert await menu.levels([ITEM]) == {ITEM: 100 - 31}

    janitor = ReservationJanitor(menu, mongo_db.orders, grace_s=60)
    assert await janitor.run_once() == 3
    assert await janitor.run_once() == 0  # nothing twice

    # returned: 1 (no order) + 2 (cancelled before cooking); kept sold: 4; still held: 8 + 16
    assert await menu.levels([ITEM]) == {ITEM: 100 - 4 - 8 - 16}
    item = await mongo_db.menu_items.find_one({"_id": ITEM})
    assert item is not None
    assert set(item["reservations"]) == {"still-cooking", "just-placed"}


@pytest.mark.parametrize(
    "skew_ms", [TEN_MINUTES_MS, -TEN_MINUTES_MS], ids=["10-min-ahead", "10-min-behind"]
)
async def test_a_janitor_whose_clock_is_off_judges_ages_on_the_one_clock(
    skew_ms: float, mongo_db: AsyncDatabase[dict[str, Any]], redis: Redis
) -> None:
    menu = MenuStore(mongo_db.menu_items)
    await menu.seed(DEFAULT_MENU, stock=100)
    with installed(await synced_clock(redis)):  # the process that placed the orders
        assert await menu.reserve(ITEM, "being-created", 1)  # its request is still at work
        assert await menu.reserve(ITEM, "crashed", 2)
    await mongo_db.menu_items.update_one(
        {"_id": ITEM},
        {"$inc": {"reservations.crashed.t": -120_000}},  # two minutes ago
    )
    with installed(await synced_clock(redis, skew_ms=skew_ms)):
        assert await ReservationJanitor(menu, mongo_db.orders, grace_s=60).run_once() == 1
    item = await mongo_db.menu_items.find_one({"_id": ITEM})
    assert item is not None and set(item["reservations"]) == {"being-created"}
    assert await menu.levels([ITEM]) == {ITEM: 100 - 1}
